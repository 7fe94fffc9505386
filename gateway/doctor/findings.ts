// What `oag doctor` reports: one finding per thing checked, each a sentence a technician can act on, and for a
// fault the fix under it. Printed as a list for people, or as JSON for scripts.

export type FindingStatus = 'ok' | 'warn' | 'fail';

export const DOCTOR_AREAS = ['config', 'policy', 'store', 'members', 'clock', 'gpio', 'readers', 'keypad', 'sound', 'mqtt', 'central-key', 'console'] as const;
export type DoctorArea = (typeof DOCTOR_AREAS)[number];

export interface Finding {
  /** Stable for scripts: `store.writable`, `gpio.outputs.door`, `mqtt.acl`. */
  id: string;
  area: DoctorArea;
  status: FindingStatus;
  /** What was found, as a sentence. */
  found: string;
  /** What to do about it (a warning or a failure). */
  fix?: string | undefined;
}

export function ok(id: string, area: DoctorArea, found: string): Finding {
  return { id, area, status: 'ok', found };
}

export function warn(id: string, area: DoctorArea, found: string, fix?: string): Finding {
  return { id, area, status: 'warn', found, ...(fix === undefined ? {} : { fix }) };
}

export function fail(id: string, area: DoctorArea, found: string, fix: string): Finding {
  return { id, area, status: 'fail', found, fix };
}

/** 1 when anything failed; a warning alone is not a reason for a script to stop. */
export function doctorExitCode(findings: readonly Finding[]): 0 | 1 {
  return findings.some((f) => f.status === 'fail') ? 1 : 0;
}

const MARK: Record<FindingStatus, string> = { ok: '✓', warn: '!', fail: '✗' };

/** The list for a terminal: grouped by area in the order checked, the fix indented under its finding, a summary last. */
export function formatFindings(findings: readonly Finding[], heading: string): string {
  const lines = [heading, ''];
  for (const area of DOCTOR_AREAS) {
    const inArea = findings.filter((f) => f.area === area);
    if (inArea.length === 0) continue;
    lines.push(area);
    for (const finding of inArea) {
      lines.push(`  ${MARK[finding.status]} ${finding.found}`);
      if (finding.fix !== undefined && finding.status !== 'ok') lines.push(`      fix: ${finding.fix}`);
    }
  }
  const count = (status: FindingStatus): number => findings.filter((f) => f.status === status).length;
  const failures = count('fail');
  const warnings = count('warn');
  lines.push('', `${count('ok')} ok, ${warnings} ${warnings === 1 ? 'warning' : 'warnings'}, ${failures} ${failures === 1 ? 'failure' : 'failures'}`);
  return `${lines.join('\n')}\n`;
}
