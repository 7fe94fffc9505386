import { describe, expect, it } from 'vitest';
import { FrameSplitter, checksum, decode, encode, fieldValue, fieldValues, sipDateTime } from '../../../gateway/sip2/codec.js';
import {
  loginRequest,
  patronInformationRequest,
  patronStatusRequest,
  readAcsStatus,
  readLoginResponse,
  readPatronResponse,
  scStatusRequest,
} from '../../../gateway/sip2/messages.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');
const frameOf = (wire: Buffer): Buffer => wire.subarray(0, wire.length - 1);

// A patron information response laid out as SirsiDynix and Koha send them: 14 status flags, language, date, six
// counts, then variable fields, extension fields (PA expiry, PB birth date, PC class) among them.
const PATRON_64 =
  '64  Y           00020261123    101500000000020000000000000000AOTOWN|AA21000123456789|AEReader, Ada|BZ0010|CA0005|CB0020|' +
  'BLY|CQY|BHGBP|BV1.50|PA20271231    235900|PB19800501|PCOA|ZZkept|AFWelcome|AFSecond line|AY3AZ';
const PATRON_64_WIRE = `${PATRON_64}${checksum(bytes(PATRON_64))}`;

describe('SIP2 checksum', () => {
  it('matches the specification\'s own example of an SC status message', () => {
    expect(checksum(bytes('9900302.00AY1AZ'))).toBe('FCA5');
    const decoded = decode(bytes('9900302.00AY1AZFCA5'));
    expect(decoded.ok).toBe(true);
  });

  it('is the two\'s complement of the byte sum, so the sum of everything including it is zero mod 2^16', () => {
    const wire = encode('9300CNuser|COpass|CPENTRANCE|', { sequence: 4 });
    const text = wire.toString('latin1');
    expect(text).toMatch(/^9300CNuser\|COpass\|CPENTRANCE\|AY4AZ[0-9A-F]{4}\r$/);
    let total = 0;
    const summed = wire.subarray(0, wire.length - 5);
    for (const b of summed) total += b;
    total += parseInt(text.slice(-5, -1), 16);
    expect(total & 0xffff).toBe(0);
  });

  it('refuses a message whose checksum does not match, whose bytes were changed, or that has none', () => {
    const good = PATRON_64_WIRE;
    expect(decode(bytes(good)).ok).toBe(true);
    const flipped = good.replace('BLY', 'BLN');
    expect(decode(bytes(flipped))).toEqual({ ok: false, problem: 'checksum', code: '64' });
    const wrongSum = good.slice(0, -4) + (good.endsWith('0000') ? '0001' : '0000');
    expect(decode(bytes(wrongSum))).toMatchObject({ ok: false, problem: 'checksum' });
    expect(decode(bytes(PATRON_64.slice(0, -5)))).toMatchObject({ ok: false, problem: 'no-checksum' });
    expect(decode(bytes('hello'))).toMatchObject({ ok: false, problem: 'malformed' });
  });

  it('accepts a lower-case checksum and a CR LF line end', () => {
    const lower = PATRON_64 + checksum(bytes(PATRON_64)).toLowerCase();
    expect(decode(bytes(lower)).ok).toBe(true);
    expect(decode(bytes(`\n${PATRON_64_WIRE}\n`)).ok).toBe(true);
  });

  it('sums bytes, not characters: a name in UTF-8 is checked as sent', () => {
    const body = '24              00020261123    101500AOTOWN|AA123456|AEBrontë, Émile|BLY|';
    const wire = encode(body, { sequence: 0 });
    const decoded = decode(frameOf(wire));
    expect(decoded.ok).toBe(true);
    if (decoded.ok) expect(Buffer.from(fieldValue(decoded.message, 'AE')!, 'latin1').toString('utf8')).toBe('Brontë, Émile');
  });
});

describe('SIP2 messages', () => {
  it('reads a patron information response: fixed fields, fields in any order, repeats and unknown fields kept', () => {
    const decoded = decode(bytes(PATRON_64_WIRE));
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    const m = decoded.message;
    expect(m.code).toBe('64');
    expect(m.sequence).toBe(3);
    const patron = readPatronResponse(m);
    expect(patron.status).toBe('  Y           ');
    expect(patron.patronId).toBe('21000123456789');
    expect(patron.validPatron).toBe(true);
    expect(fieldValue(m, 'PA')).toBe('20271231    235900');
    expect(fieldValue(m, 'ZZ')).toBe('kept');
    expect(fieldValues(m, 'AF')).toEqual(['Welcome', 'Second line']);
    expect(m.fixed.slice(35, 39)).toBe('0000');

    // The same fields the other way round: nothing depends on their order.
    const reversed = m.fields
      .slice()
      .reverse()
      .map((f) => `${f.id}${f.value}|`)
      .join('');
    const again = decode(frameOf(encode(`64${m.fixed}${reversed}`, { sequence: 3 })));
    expect(again.ok).toBe(true);
    if (again.ok) {
      expect(readPatronResponse(again.message)).toMatchObject({ status: patron.status, patronId: patron.patronId, validPatron: true });
      expect(fieldValue(again.message, 'PB')).toBe('19800501');
    }
  });

  it('reads an unknown patron the way Koha answers one (BL N) and a response without BL', () => {
    const unknown = decode(frameOf(encode('24YYYY          00020261123    101500AOTOWN|AA999|AE|BLN|AFNot found|', { sequence: 2 })));
    expect(unknown.ok && readPatronResponse(unknown.message).validPatron).toBe(false);
    const noBl = decode(frameOf(encode('24              00020261123    101500AOTOWN|AA999|AEX|', { sequence: 2 })));
    expect(noBl.ok && readPatronResponse(noBl.message).validPatron).toBeUndefined();
  });

  it('builds the requests with the spec\'s fixed-field layouts', () => {
    const at = sipDateTime(new Date(2026, 10, 23, 9, 5, 7));
    expect(at).toBe('20261123    090507');
    expect(loginRequest({ user: 'gate', password: 'pw', locationCode: 'TOWN-ENT' })).toBe('9300CNgate|COpw|CPTOWN-ENT|');
    expect(scStatusRequest()).toBe('990080' + '2.00');
    expect(patronStatusRequest({ institutionId: 'TOWN', patronId: '2100012', at })).toBe(`23000${at}AOTOWN|AA2100012|AC|AD|`);
    expect(patronInformationRequest({ institutionId: 'TOWN', patronId: '2100012', at, terminalPassword: 'tp' })).toBe(
      `63000${at}${' '.repeat(10)}AOTOWN|AA2100012|ACtp|`,
    );
  });

  it('round-trips each request through the wire format with its sequence number', () => {
    const at = '20261123    101500';
    for (const [body, code] of [
      [loginRequest({ user: 'u', password: 'p' }), '93'],
      [scStatusRequest(), '99'],
      [patronStatusRequest({ institutionId: 'TOWN', patronId: 'ABC123', at }), '23'],
      [patronInformationRequest({ institutionId: 'TOWN', patronId: 'ABC123', at }), '63'],
    ] as const) {
      for (let seq = 0; seq < 10; seq++) {
        const decoded = decode(frameOf(encode(body, { sequence: seq })));
        expect(decoded.ok).toBe(true);
        if (!decoded.ok) continue;
        expect(decoded.message.code).toBe(code);
        expect(decoded.message.sequence).toBe(seq);
        if (code === '23' || code === '63') expect(fieldValue(decoded.message, 'AA')).toBe('ABC123');
      }
    }
  });

  it('sends a resend request (97) with a checksum and no sequence number', () => {
    expect(encode('97').toString('latin1')).toBe(`97AZ${checksum(bytes('97AZ'))}\r`);
    const decoded = decode(frameOf(encode('96')));
    expect(decoded.ok && decoded.message.sequence).toBeUndefined();
  });

  it('reads login and ACS status answers', () => {
    const ok = decode(frameOf(encode('941', { sequence: 0 })));
    const refused = decode(frameOf(encode('940', { sequence: 0 })));
    expect(ok.ok && readLoginResponse(ok.message).ok).toBe(true);
    expect(refused.ok && readLoginResponse(refused.message).ok).toBe(false);
    const status = decode(frameOf(encode('98YYYYNN01000320261123    1015002.00AOTOWN|AMTown Library|BXYYYYYYYYYYYNYYYY|AF|', { sequence: 1 })));
    expect(status.ok).toBe(true);
    if (status.ok) expect(readAcsStatus(status.message)).toEqual({ online: true, protocolVersion: '2.00', institutionId: 'TOWN', supported: 'YYYYYYYYYYYNYYYY' });
  });

  it('refuses to build a request whose values would break the framing, without echoing them', () => {
    expect(() => patronInformationRequest({ institutionId: 'TOWN', patronId: '1234|AZ', at: '' })).toThrow(/^patron identifier: /);
    try {
      patronInformationRequest({ institutionId: 'TOWN', patronId: '1234|AZ', at: '' });
    } catch (error) {
      expect((error as Error).message).not.toContain('1234');
    }
    expect(() => encode('63\rxx')).toThrow(TypeError);
  });
});

describe('SIP2 framing', () => {
  it('splits a stream into messages however the bytes arrive', () => {
    const wire = Buffer.concat([encode('941', { sequence: 0 }), bytes(`${PATRON_64_WIRE}\r\n`), encode('941', { sequence: 5 })]);
    for (const size of [1, 2, 7, 64, wire.length]) {
      const splitter = new FrameSplitter();
      const frames: Buffer[] = [];
      for (let i = 0; i < wire.length; i += size) frames.push(...splitter.push(wire.subarray(i, i + size)));
      const decoded = frames.map((f) => decode(f));
      expect(decoded.map((d) => d.ok && d.message.code)).toEqual(['94', '64', '94']);
      expect(decoded.map((d) => d.ok && d.message.sequence)).toEqual([0, 3, 5]);
    }
  });

  it('refuses a message that never ends instead of growing without bound', () => {
    const splitter = new FrameSplitter(1024);
    expect(() => splitter.push(Buffer.alloc(2000, 0x41))).toThrow(RangeError);
    expect(splitter.push(encode('941', { sequence: 0 }))).toHaveLength(1);
  });
});
