// What a technician reads from `oag doctor` and what a script gets: the marks, the fix under a failure, the exit code.
import { describe, expect, it } from 'vitest';
import { doctorExitCode, fail, formatFindings, ok, warn } from '../../../gateway/doctor/findings.js';

describe('doctor findings', () => {
  const findings = [
    ok('config.valid', 'config', 'gateway.yaml is valid (site town-central)'),
    fail('readers.pcscd', 'readers', 'pcscd is not running, so no PC/SC reader can be read', 'sudo systemctl enable --now pcscd.socket pcscd'),
    warn('sound.files', 'sound', 'no prepared sound files', 'oag sounds prepare --config gateway.yaml'),
  ];

  it('prints each finding under its area with ✓ ! ✗, the fix indented under it, and a count', () => {
    expect(formatFindings(findings, 'oag doctor: branch town-central')).toBe(
      [
        'oag doctor: branch town-central',
        '',
        'config',
        '  ✓ gateway.yaml is valid (site town-central)',
        'readers',
        '  ✗ pcscd is not running, so no PC/SC reader can be read',
        '      fix: sudo systemctl enable --now pcscd.socket pcscd',
        'sound',
        '  ! no prepared sound files',
        '      fix: oag sounds prepare --config gateway.yaml',
        '',
        '1 ok, 1 warning, 1 failure',
        '',
      ].join('\n'),
    );
  });

  it('exits 1 on any failure, 0 with warnings alone', () => {
    expect(doctorExitCode(findings)).toBe(1);
    expect(doctorExitCode(findings.filter((f) => f.status !== 'fail'))).toBe(0);
  });
});
