import { describe, expect, it } from 'vitest';
import { SlugcError, parseProcfile } from '../src/index.js';

describe('parseProcfile', () => {
  it('reads process types, skipping comments and blank lines', () => {
    const text = '# processes\nweb: node server.js --port $PORT\n\nworker:   node worker.js  \nrelease-phase_1: ./bin/migrate: now\n';
    expect(parseProcfile(text)).toEqual({ web: 'node server.js --port $PORT', worker: 'node worker.js', 'release-phase_1': './bin/migrate: now' });
  });

  it('accepts CRLF line ends and a byte order mark', () => {
    expect(parseProcfile('\uFEFFweb: a\r\nworker: b\r\n')).toEqual({ web: 'a', worker: 'b' });
  });

  describe('refuses', () => {
    const problemsOf = (text: string): string[] => {
      try {
        parseProcfile(text);
      } catch (e) {
        expect(e).toBeInstanceOf(SlugcError);
        expect((e as SlugcError).code).toBe('SLUGC_PROCFILE_INVALID');
        expect((e as SlugcError).hint).toMatch(/type>: <command>/);
        return (e as SlugcError).details.problems as string[];
      }
      throw new Error('expected an error');
    };

    it('a line without a colon, naming its line number', () => {
      expect(problemsOf('web: ok\nthis is not a process\n')).toEqual([expect.stringMatching(/^line 2: expected "type: command"/)]);
    });

    it('a process type with characters the platform rejects', () => {
      expect(problemsOf('web app: node x\n')[0]).toMatch(/^line 1: process type "web app" must match/);
      expect(problemsOf(`${'a'.repeat(129)}: x`)[0]).toMatch(/^line 1: process type/);
    });

    it('a process type without a command', () => {
      expect(problemsOf('web:\n')).toEqual(['line 1: process type "web" has no command']);
    });

    it('a process type given twice', () => {
      expect(problemsOf('web: a\nweb: b\n')).toEqual(['line 2: process type "web" is defined twice']);
    });

    it('every bad line at once', () => {
      expect(problemsOf('bad\nweb: ok\n: nothing\nweb:\n')).toHaveLength(3);
    });
  });
});
