import { describe, expect, it } from 'vitest';
import { parseRulesText, validateRules } from '../../../central/alerts/rules.js';
import { rulesInput, rulesOf } from './helpers.js';

describe('alert rules', () => {
  it('matches by region and severity, the first matching rule deciding', () => {
    const rules = rulesOf();
    const match = (site: string, alarm: string, severity: string) => rules.match({ site, alarm, severity })?.rule.id ?? null;
    expect(match('north-a', 'forced-open', 'major')).toBe('north-major');
    expect(match('north-b', 'forced-open', 'critical')).toBe('north-major');
    // Below the rule's minimum severity, or outside the region: nobody.
    expect(match('north-a', 'uplink-failed', 'minor')).toBeNull();
    expect(match('riverside', 'forced-open', 'major')).toBeNull();
    // An alarm this central does not know, at a severity it does not know, ranks as warning: under major.
    expect(match('north-a', 'smoke-detected', 'catastrophic')).toBeNull();
    // The fire rule comes first, wherever the branch is.
    expect(match('north-a', 'fire', 'critical')).toBe('fire');
    expect(match('riverside', 'fire', 'critical')).toBe('fire');
  });

  it('names every bad field of a malformed document', () => {
    const input = rulesInput();
    const bad = {
      ...input,
      contacts: [...(input.contacts ?? []), { name: 'Dan', sms: '07700 900004' }, { name: 'Alice', email: 'a2@example.org' }, { name: 'Eve' }],
      rules: [
        {
          id: 'fire',
          alarms: ['fier'],
          regions: ['south'],
          steps: [{ afterMinutes: 0, contacts: ['Bobby'] }, { afterMinutes: 0, onCall: 'secondary' }],
          repeatMinutes: 0,
        },
        { id: 'fire', alarms: ['*'], steps: [{ afterMinutes: 5, contacts: ['Bob'], via: ['sms'] }, { afterMinutes: 5 }], colour: 'red' },
      ],
    };
    const r = validateRules(bad);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual(
      expect.arrayContaining([
        'contacts[4].sms: must be a phone number in international form: + and 7 to 15 digits, e.g. +447700900123',
        'contacts[6]: needs at least one of email, sms, webhook',
        'contacts[5].name: "Alice" is already contacts[0]',
        expect.stringMatching(/^rules\[0\]\.alarms\[0\]: unknown alarm "fier": use \* or one of forced-open, held-open, fire, .*offline, .*email-failed/),
        'rules[0].repeatMinutes: must be at least 1',
        'rules[0].steps[1].afterMinutes: must be at least 1 (a later step waits for an acknowledgement)',
        'rules[0].regions[0]: no region named "south" (regions: north)',
        'rules[0].steps[0].contacts[0]: no contact named "Bobby"',
        'rules[0].steps[1].onCall: no rota named "secondary" (rotas: primary)',
        'rules[1].colour: unknown key',
        'rules[1].steps[1]: needs onCall (a rota) or contacts (names), or both',
        'rules[1].id: "fire" is already rules[0]',
        'rules[1].steps[0].via: Bob has none of sms (has email)',
      ]),
    );
    expect(r.errors).toHaveLength(13);
  });

  it('reads YAML text, and says where its syntax breaks', () => {
    const ok = parseRulesText(
      [
        'contacts:',
        '  - { name: Alice, email: alice@example.org }',
        'rules:',
        '  - id: all',
        "    alarms: ['*']",
        '    steps: [{ afterMinutes: 0, contacts: [Alice] }]',
      ].join('\n'),
    );
    expect(ok.ok && ok.value.rules[0]?.id).toBe('all');
    const broken = parseRulesText('rules: [\n  - id: x\n', 'rules.yaml');
    expect(broken.ok).toBe(false);
    expect(broken.ok ? '' : broken.errors[0]).toMatch(/^rules\.yaml:\d+:\d+: /);
    const huge = parseRulesText(`# ${'x'.repeat(300 * 1024)}\n`);
    expect(huge.ok ? '' : huge.errors[0]).toMatch(/too large|at most/);
  });

  it('tells each step\'s people over the channels the step names, the on-call person first', () => {
    const rules = rulesOf();
    const fire = rules.doc.rules[0];
    const north = rules.doc.rules[1];
    if (!fire?.steps[0] || !north?.steps[0]) throw new Error('fixture');
    // 21:00 BST on a Monday: Carol's night.
    expect(rules.recipients(fire.steps[0], new Date('2025-06-02T20:00:00Z'))).toEqual([{ name: 'Carol', channel: 'sms', address: '+447700900003' }]);
    expect(rules.recipients(fire.steps[0], new Date('2025-06-02T10:00:00Z'))).toEqual([{ name: 'Alice', channel: 'sms', address: '+447700900001' }]);
    expect(rules.recipients(north.steps[0], new Date('2025-06-02T10:00:00Z'))).toEqual([
      { name: 'Bob', channel: 'email', address: 'bob@example.org' },
      { name: 'ARC', channel: 'webhook', address: 'https://arc.example.org/hook' },
    ]);
  });
});
