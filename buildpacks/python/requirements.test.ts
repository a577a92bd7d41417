// What a requirements file depends on: its includes, resolved as pip does, and never outside the app.
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, testApp } from 'slugc/testing';
import { requirementsInputs } from './requirements.js';

afterEach(cleanup);

describe('requirementsInputs', () => {
  it('follows -r and -c relative to the including file, and collects find-links dirs and index URLs', () => {
    const app = testApp({
      'requirements.txt': '-r reqs/base.txt\n--find-links wheels\n--index-url https://pypi.example/simple\n',
      'reqs/base.txt': '-c constraints.txt\ngreet==1.0\n',
      'reqs/constraints.txt': 'greet<2\n',
    });
    expect(requirementsInputs(app.dir, 'requirements.txt')).toEqual({
      files: ['requirements.txt', 'reqs/base.txt', 'reqs/constraints.txt'],
      findLinks: ['wheels'],
      indexUrls: ['https://pypi.example/simple'],
    });
  });

  it('refuses an include by absolute path or one that leaves the app, and does not take an absolute find-links dir for an app dir', () => {
    expect(() => requirementsInputs(testApp({ 'requirements.txt': '-r /etc/passwd\n' }).dir, 'requirements.txt')).toThrow(
      expect.objectContaining({ code: 'SLUGC_PYTHON_REQUIREMENTS_INVALID', message: expect.stringMatching(/outside the app/) }),
    );
    expect(() => requirementsInputs(testApp({ 'requirements.txt': '-r ../../x.txt\n' }).dir, 'requirements.txt')).toThrow(expect.objectContaining({ code: 'SLUGC_PYTHON_REQUIREMENTS_INVALID' }));
    expect(requirementsInputs(testApp({ 'requirements.txt': '-f /opt/wheels\n' }).dir, 'requirements.txt').findLinks).toEqual([]);
  });
});
