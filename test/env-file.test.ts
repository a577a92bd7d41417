import { describe, expect, it } from 'vitest';
import { SlugcError, parseEnvAssignment, parseEnvText } from '../src/index.js';

describe('env files', () => {
  it('reads KEY=value lines with export, comments and quotes', () => {
    const text = '# config\nexport A=1\nB="two words\\n"\nC=\'$literal\'\nD=\nE=a=b\n';
    expect(parseEnvText(text)).toEqual({ A: '1', B: 'two words\n', C: '$literal', D: '', E: 'a=b' });
  });

  it('names every bad line', () => {
    try {
      parseEnvText('GOOD=1\nno equals\n1BAD=x\nQ="open\n', '.env');
      throw new Error('expected an error');
    } catch (e) {
      expect((e as SlugcError).code).toBe('SLUGC_ENV_INVALID');
      expect((e as SlugcError).message).toMatch(/line 2: expected KEY=value/);
      expect((e as SlugcError).message).toMatch(/line 3: "1BAD" is not a valid variable name/);
      expect((e as SlugcError).message).toMatch(/line 4: unterminated quote/);
    }
  });

  it('parses --env assignments and refuses ones without a name', () => {
    expect(parseEnvAssignment('A=b=c')).toEqual(['A', 'b=c']);
    expect(() => parseEnvAssignment('=x')).toThrow(/expected KEY=value/);
    expect(() => parseEnvAssignment('NOVALUE')).toThrow(SlugcError);
  });
});
