import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeUtf8,
  invalidUtf8Offset,
  loadPolicyText,
  MAX_POLICY_BYTES,
  parseYamlDocument,
  Utf8Validator,
} from '../../../policies/index.js';
import { aliasBomb } from '../../helpers/hostile-input.js';
import { EXAMPLES_DIR } from './helpers.js';

const town = readFileSync(`${EXAMPLES_DIR}town.yaml`);

describe('decodeUtf8', () => {
  it('names the file and the offset (and line) of the first byte that is not UTF-8', () => {
    // "café" written by a Latin-1 editor: é is the single byte 0xE9.
    const bytes = Buffer.concat([Buffer.from('version: 1\nname: "caf'), Buffer.from([0xe9]), Buffer.from('"\n')]);
    expect(decodeUtf8(bytes, { what: 'policy.yaml', maxBytes: 1000 })).toEqual({ ok: false, error: 'policy.yaml: not valid UTF-8 at byte 21 (line 2)' });
  });

  it('drops a byte-order mark and reads the rest', () => {
    expect(decodeUtf8(Buffer.from('\uFEFFsite: town\n'), { what: 'p.yaml', maxBytes: 100 })).toEqual({ ok: true, text: 'site: town\n' });
  });

  it('refuses more than the limit before decoding, naming the limit', () => {
    const r = decodeUtf8(new Uint8Array(MAX_POLICY_BYTES + 1), { what: 'big.yaml', maxBytes: MAX_POLICY_BYTES });
    expect(r).toEqual({ ok: false, error: 'big.yaml: too large (262,145 bytes; the limit is 256 KiB)' });
  });

  it('says when a file is UTF-16 (a spreadsheet\'s "Unicode text")', () => {
    const r = decodeUtf8(Buffer.from('\uFEFFsite', 'utf16le'), { what: 'members.yaml', maxBytes: 100 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/^members\.yaml: not valid UTF-8 at byte 0 \(line 1\); it looks like UTF-16/);
  });

  it('finds the same bad sequences as the platform decoder, also when fed in pieces', () => {
    const strict = new TextDecoder('utf-8', { fatal: true });
    const valid = (b: Uint8Array): boolean => {
      try {
        strict.decode(b);
        return true;
      } catch {
        return false;
      }
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), fc.nat(24), (bytes, cut) => {
        const at = invalidUtf8Offset(bytes);
        expect(at < 0).toBe(valid(bytes));
        if (at >= 0) expect(valid(bytes.subarray(0, at))).toBe(true);
        const pieces = new Utf8Validator();
        const first = pieces.push(bytes.subarray(0, Math.min(cut, bytes.length)));
        const second = first >= 0 ? first : pieces.push(bytes.subarray(Math.min(cut, bytes.length)));
        expect(second >= 0 ? second : pieces.end()).toBe(at);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('parseYamlDocument', () => {
  it('refuses an alias bomb with one clear line instead of expanding it', () => {
    const r = parseYamlDocument(aliasBomb(), 'bomb.yaml');
    expect(r).toMatchObject({ ok: false, errors: ['bomb.yaml: too many YAML aliases (limit 100)'] });
  });

  it('still reads the anchors and aliases a policy uses to repeat a day', () => {
    const r = parseYamlDocument(town.toString('utf8'), 'town.yaml');
    expect(r.ok).toBe(true);
  });

  it('lists the first syntax errors with their positions, not hundreds of them', () => {
    const r = parseYamlDocument(`a: [${'\n  - x'.repeat(500)}`, 'bad.yaml');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.errors.length).toBeLessThanOrEqual(21);
      expect(r.errors[0]).toMatch(/^bad\.yaml:\d+:\d+: /);
    }
  });
});

describe('loadPolicyText on untrusted input', () => {
  it('refuses a 10 MB policy without parsing it', () => {
    const huge = `${town.toString('utf8')}\n# ${'x'.repeat(10 * 1024 * 1024)}\n`;
    for (const input of [huge, Buffer.from(huge)]) {
      const r = loadPolicyText(input, 'huge.yaml');
      expect(r).toEqual({ ok: false, errors: [expect.stringMatching(/^huge\.yaml: too large \(10,4\d\d,\d{3} bytes; the limit is 256 KiB\)$/)] });
    }
  });

  it('refuses bytes that are not UTF-8, with the offset, rather than reading U+FFFD into the policy', () => {
    const at = town.indexOf('Town Central');
    const bytes = Buffer.from(town);
    bytes[at] = 0xff;
    expect(loadPolicyText(bytes, 'town.yaml')).toEqual({ ok: false, errors: [`town.yaml: not valid UTF-8 at byte ${at} (line 6)`] });
  });

  it('refuses U+FFFD in names and labels: the sign of text decoded leniently somewhere before', () => {
    const r = loadPolicyText(town.toString('utf8').replace('Town Central', 'Town Centr\uFFFDl'), 'town.yaml');
    expect(r).toMatchObject({ ok: false, errors: [expect.stringMatching(/^name: contains U\+FFFD/)] });
  });

  it('refuses an alias bomb in a policy as one error', () => {
    expect(loadPolicyText(aliasBomb(), 'bomb.yaml')).toEqual({ ok: false, errors: ['bomb.yaml: too many YAML aliases (limit 100)'] });
  });
});
