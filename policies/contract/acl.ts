// Who may publish and subscribe where, written once: the embedded broker asks `aclAllows`, and Mosquitto reads the
// file `renderMosquittoAcl` makes from the same ACL_RULES, so the two brokers cannot drift apart. A site's username
// is its site id, and it reaches only its own tree, in the direction the contract says; `central` reaches everything
// under the prefix. Pure: no I/O.
import { checkPrefix, isSiteId, SHARED_TOPIC_KINDS, SITE_TOPIC_KINDS, type SharedTopicKind, type SiteTopicKind } from './topics.js';

/** The one username that is not a site; no site may be called this. */
export const CENTRAL_USERNAME = 'central';

export type AclAccess = 'read' | 'write' | 'readwrite';
export type AclAction = 'publish' | 'subscribe';
export type AclAnswer = { ok: true } | { ok: false; reason: string };

/**
 * A site's direction on each of its own topics. A Record, so a new topic kind does not compile until someone says
 * which way a site may use it.
 */
export const SITE_ACCESS: Readonly<Record<SiteTopicKind, 'read' | 'write'>> = {
  availability: 'write',
  state: 'write',
  events: 'write',
  'command/reply': 'write',
  command: 'read',
  policy: 'read',
  'members/request': 'write',
  'members/chunk': 'read',
  'members/change': 'write',
  'members/change/reply': 'read',
};

/** Topics central publishes for every site: a site only reads them (a forged announcement is refused). */
export const SHARED_ACCESS: Readonly<Record<SharedTopicKind, 'read'>> = {
  'members/current': 'read',
};

export interface AclRule {
  /** `central`: the central user only; `site`: every other user, with `%u` standing for its username. */
  who: 'central' | 'site';
  access: AclAccess;
  /** A topic filter relative to the prefix; `%u` is the username (Mosquitto's own placeholder). */
  filter: string;
}

/** The whole ACL. Order is the order of the rendered file. */
export const ACL_RULES: readonly AclRule[] = [
  { who: 'central', access: 'readwrite', filter: '#' },
  ...SHARED_TOPIC_KINDS.map((kind): AclRule => ({ who: 'site', access: SHARED_ACCESS[kind], filter: kind })),
  ...SITE_TOPIC_KINDS.map((kind): AclRule => ({ who: 'site', access: SITE_ACCESS[kind], filter: `sites/%u/${kind}` })),
];

function ruleFilter(prefix: string, rule: AclRule, username: string): string {
  return `${prefix}/${rule.filter.replaceAll('%u', username)}`;
}

/** `null` when `filter` is a valid MQTT topic filter (or, with `wildcards` false, a topic name); else what is wrong. */
function filterProblem(filter: string, wildcards: boolean): string | null {
  if (filter === '') return 'an empty topic';
  if (filter.includes('\u0000')) return 'a topic with a NUL character';
  const levels = filter.split('/');
  for (const [i, level] of levels.entries()) {
    if (!level.includes('#') && !level.includes('+')) continue;
    if (!wildcards) return `wildcards in the topic name "${filter}"`;
    if (level === '+' || (level === '#' && i === levels.length - 1)) continue;
    return `a malformed topic filter "${filter}"`;
  }
  return null;
}

/**
 * Whether every topic `inner` matches is matched by `outer` (both valid filters; a topic name is a filter without
 * wildcards). Strict on purpose: a `+` in `inner` is covered only by `+` or `#` in `outer`, never by a literal, so
 * a site's `sites/+/command` is refused even though its own command topic is one of the topics it matches.
 */
function filterWithin(inner: string, outer: string): boolean {
  const a = inner.split('/');
  const b = outer.split('/');
  // Topics starting with `$` ($SYS, $share) are never matched by a leading wildcard (MQTT 5 §4.7.2).
  if (a[0]!.startsWith('$') && (b[0] === '#' || b[0] === '+')) return false;
  for (let i = 0; i < b.length; i++) {
    const o = b[i]!;
    if (o === '#') return true;
    const n = a[i];
    if (n === undefined) return false;
    if (n === '#') return false;
    if (o === '+') continue;
    if (n === '+' || n !== o) return false;
  }
  return a.length === b.length;
}

/**
 * May `username` publish to `topic` or subscribe to the filter `topic`? A subscription is allowed only when nothing
 * it could match lies outside what the user may read: a site gets exactly its own topics and the shared ones, no
 * wildcard. Anonymous clients and usernames that are not site ids get nothing.
 */
export function aclAllows(prefix: string, username: string | undefined, action: AclAction, topic: string): AclAnswer {
  checkPrefix(prefix);
  if (username === undefined || username === '') return { ok: false, reason: 'anonymous client' };
  const who = username === CENTRAL_USERNAME ? 'central' : 'site';
  if (who === 'site' && !isSiteId(username)) return { ok: false, reason: `username "${username}" is not a site id` };
  const problem = filterProblem(topic, action === 'subscribe');
  if (problem !== null) return { ok: false, reason: `${username}: ${problem}` };
  const needs = action === 'publish' ? 'write' : 'read';
  const allowed = ACL_RULES.some(
    (rule) => rule.who === who && (rule.access === needs || rule.access === 'readwrite') && filterWithin(topic, ruleFilter(prefix, rule, username)),
  );
  return allowed ? { ok: true } : { ok: false, reason: `${username} may not ${action} ${action === 'publish' ? 'to' : 'to the filter'} "${topic}"` };
}

/**
 * The Mosquitto `acl_file` for `prefix` (`oag central mqtt-acl`). Mosquitto applies `pattern` lines to every user,
 * central included, which only repeats what central already has; a username that is not a site id matches no
 * topic central reads (parseTopic ignores it), where `aclAllows` refuses it outright.
 */
export function renderMosquittoAcl(prefix: string): string {
  checkPrefix(prefix);
  const lines = [
    `# Mosquitto ACL for the Open Access gateway, topic prefix ${prefix}: made by \`oag central mqtt-acl\` from the`,
    '# rules in policies/contract/acl.ts (the embedded broker applies the same). Do not edit: render it again.',
    `# The username of a gateway is its site id; "${CENTRAL_USERNAME}" is central's and no site's.`,
    '',
    `user ${CENTRAL_USERNAME}`,
    ...ACL_RULES.filter((r) => r.who === 'central').map((r) => `topic ${r.access} ${ruleFilter(prefix, r, '%u')}`),
    '',
    '# every other user is a site: the shared announcements to read, its own tree only, in the contract\'s direction',
    ...ACL_RULES.filter((r) => r.who === 'site').map((r) => `pattern ${r.access} ${ruleFilter(prefix, r, '%u')}`),
    '',
  ];
  return lines.join('\n');
}
