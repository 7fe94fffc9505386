// The SIP2 messages the gateway sends and reads: login (93/94), SC status (99/98), patron status (23/24) and
// patron information (63/64), with the spec's fixed-field layouts. Bodies only: codec.ts adds AY/AZ and `\r`.
import { field, fieldValue } from './codec.js';
import type { Sip2Message } from './codec.js';

/** Language `000`: unknown (the ACS's default). */
const LANGUAGE = '000';
/** Patron information summary: ten blanks, no item lists wanted. */
const NO_SUMMARY = ' '.repeat(10);

/** Values that go inside a variable field: a pipe or a line break would end the field or the message. */
function checkValue(name: string, value: string): string {
  if (/[|\r\n]/.test(value)) throw new TypeError(`${name}: a SIP2 field cannot contain "|" or a line break`);
  return value;
}

export interface LoginRequest {
  user: string;
  password: string;
  locationCode?: string | undefined;
}

/** 93: UID and PWD algorithms `0` (not encrypted: SIP2 has nothing better; use TLS on the link). */
export function loginRequest(login: LoginRequest): string {
  return (
    '9300' +
    field('CN', checkValue('user', login.user)) +
    field('CO', checkValue('password', login.password)) +
    (login.locationCode === undefined ? '' : field('CP', checkValue('locationCode', login.locationCode)))
  );
}

/** 99: status 0 (SC ok), print width 080, protocol 2.00. */
export function scStatusRequest(): string {
  return '99' + '0' + '080' + '2.00';
}

/** 97: ask the ACS to send its last message again (after a bad checksum). */
export const REQUEST_ACS_RESEND = '97';

export interface PatronRequest {
  institutionId: string;
  patronId: string;
  terminalPassword?: string | undefined;
  /** AD: the patron's password (their PIN), only when the library system is to check it (rules.pinSource sip2). */
  patronPassword?: string | undefined;
  at: string;
}

/** 23 Patron Status Request. AC and AD are required fields and may be empty. */
export function patronStatusRequest(r: PatronRequest): string {
  return (
    '23' +
    LANGUAGE +
    r.at +
    field('AO', checkValue('institutionId', r.institutionId)) +
    field('AA', checkValue('patron identifier', r.patronId)) +
    field('AC', checkValue('terminalPassword', r.terminalPassword ?? '')) +
    field('AD', checkValue('patron password', r.patronPassword ?? ''))
  );
}

/** 63 Patron Information Request, without item lists. */
export function patronInformationRequest(r: PatronRequest): string {
  return (
    '63' +
    LANGUAGE +
    r.at +
    NO_SUMMARY +
    field('AO', checkValue('institutionId', r.institutionId)) +
    field('AA', checkValue('patron identifier', r.patronId)) +
    (r.terminalPassword === undefined ? '' : field('AC', checkValue('terminalPassword', r.terminalPassword))) +
    (r.patronPassword === undefined ? '' : field('AD', checkValue('patron password', r.patronPassword)))
  );
}

export interface LoginResponse {
  ok: boolean;
}

export function readLoginResponse(m: Sip2Message): LoginResponse {
  return { ok: m.fixed.startsWith('1') };
}

export interface AcsStatus {
  online: boolean;
  protocolVersion: string;
  institutionId: string | undefined;
  /** BX: 16 Y/N flags of the messages the ACS supports; undefined when not sent. */
  supported: string | undefined;
}

export function readAcsStatus(m: Sip2Message): AcsStatus {
  return {
    online: m.fixed.startsWith('Y'),
    protocolVersion: m.fixed.slice(30, 34),
    institutionId: fieldValue(m, 'AO'),
    supported: fieldValue(m, 'BX'),
  };
}

/** Position of patron status (23) and patron information (63) in BX, the supported-messages field. */
export const SUPPORTED_INDEX = { 'patron-status': 0, 'patron-information': 11 } as const;

export interface PatronResponse {
  code: '24' | '64';
  /** The 14 patron status flags, `Y` = privilege denied (space or N = not). */
  status: string;
  patronId: string | undefined;
  /** BL: undefined when the ACS did not send it. */
  validPatron: boolean | undefined;
  /** CQ: whether the AD password sent was the patron's; undefined when the ACS did not say. */
  validPassword: boolean | undefined;
  message: Sip2Message;
}

export function readPatronResponse(m: Sip2Message): PatronResponse {
  if (m.code !== '24' && m.code !== '64') throw new TypeError(`not a patron response: ${m.code}`);
  const bl = fieldValue(m, 'BL');
  const cq = fieldValue(m, 'CQ');
  return {
    code: m.code,
    status: m.fixed.slice(0, 14).padEnd(14, ' '),
    patronId: fieldValue(m, 'AA'),
    validPatron: bl === undefined || bl === '' ? undefined : bl.toUpperCase() === 'Y',
    validPassword: cq === undefined || cq === '' ? undefined : cq.toUpperCase() === 'Y',
    message: m,
  };
}
