import { describe, expect, it } from 'vitest';
import { aclAllows, CENTRAL_USERNAME, renderMosquittoAcl, SITE_TOPIC_KINDS, topics } from '../../../policies/contract/index.js';

const P = 'oa/v1';
const town = topics(P, 'town');
const village = topics(P, 'village');

const allows = (user: string | undefined, action: 'publish' | 'subscribe', topic: string): boolean => aclAllows(P, user, action, topic).ok;

describe('aclAllows: a site on its own tree', () => {
  it.each([
    ['availability', town.availability],
    ['state', town.state],
    ['events', town.events],
    ['command/reply', town.commandReply],
    ['members/request', town.membersRequest],
    ['members/change', town.membersChange],
  ])('lets a site publish its %s and refuses reading it', (_kind, topic) => {
    expect(allows('town', 'publish', topic)).toBe(true);
    expect(allows('town', 'subscribe', topic)).toBe(false);
  });

  it.each([
    ['command', town.command],
    ['policy', town.policy],
    ['members/chunk', town.membersChunk],
    ['members/change/reply', town.membersChangeReply],
    ['members/current', `${P}/members/current`],
  ])('lets a site read %s and refuses publishing it (a forged unlock, policy, chunk or announcement)', (_kind, topic) => {
    expect(allows('town', 'subscribe', topic)).toBe(true);
    expect(aclAllows(P, 'town', 'publish', topic)).toEqual({ ok: false, reason: `town may not publish to "${topic}"` });
  });
});

describe('aclAllows: what a site is refused', () => {
  it('refuses every kind of another site, both ways', () => {
    for (const topic of Object.values(village).filter((t) => !t.endsWith('/'))) {
      expect(allows('town', 'publish', topic), topic).toBe(false);
      expect(allows('town', 'subscribe', topic), topic).toBe(false);
    }
  });

  it.each(['#', `${P}/#`, `${P}/sites/#`, `${P}/sites/+/command`, `${P}/sites/town/#`, `${P}/sites/town/+`, `+/v1/sites/town/command`, `${P}/members/+`, '$SYS/#', `$share/g/${P}/sites/town/command`])(
    'refuses the wildcard or shared subscription %s',
    (filter) => {
      expect(allows('town', 'subscribe', filter)).toBe(false);
    },
  );

  it('refuses anonymous clients and usernames that are not site ids, whatever the topic', () => {
    expect(aclAllows(P, undefined, 'subscribe', `${P}/members/current`)).toEqual({ ok: false, reason: 'anonymous client' });
    expect(aclAllows(P, '', 'publish', town.events)).toEqual({ ok: false, reason: 'anonymous client' });
    expect(aclAllows(P, 'Town Library', 'subscribe', `${P}/members/current`)).toEqual({ ok: false, reason: 'username "Town Library" is not a site id' });
    expect(allows('+', 'publish', `${P}/sites/+/events`)).toBe(false);
  });

  it('refuses malformed topics and filters with the reason', () => {
    expect(aclAllows(P, 'town', 'publish', `${P}/sites/town/+`)).toEqual({ ok: false, reason: `town: wildcards in the topic name "${P}/sites/town/+"` });
    expect(aclAllows(P, CENTRAL_USERNAME, 'subscribe', `${P}/#/x`)).toEqual({ ok: false, reason: `central: a malformed topic filter "${P}/#/x"` });
    expect(allows('town', 'publish', `${P}/sites/town//events`)).toBe(false);
  });
});

describe('aclAllows: central', () => {
  it('reads and writes everything under the prefix, wildcards included, and nothing outside it', () => {
    for (const t of [town.command, village.events, `${P}/members/current`, `${P}/sites/town/members/chunk`]) {
      expect(allows(CENTRAL_USERNAME, 'publish', t), t).toBe(true);
      expect(allows(CENTRAL_USERNAME, 'subscribe', t), t).toBe(true);
    }
    expect(allows(CENTRAL_USERNAME, 'subscribe', `${P}/sites/+/events`)).toBe(true);
    expect(allows(CENTRAL_USERNAME, 'subscribe', `${P}/#`)).toBe(true);
    expect(allows(CENTRAL_USERNAME, 'subscribe', '#')).toBe(false);
    expect(allows(CENTRAL_USERNAME, 'publish', 'oa/v2/sites/town/command')).toBe(false);
  });
});

/**
 * Mosquitto's acl_file semantics for topic names, reimplemented here the way its manual states them: `user` starts a
 * user's `topic` lines, `pattern` lines apply to every user with %u substituted, and an access is granted by any
 * matching line. Run over every topic, it shows the rendered file says what aclAllows says.
 */
function mosquittoGrants(aclText: string, user: string, access: 'read' | 'write', topic: string): boolean {
  const matches = (filter: string): boolean => {
    const f = filter.split('/');
    const t = topic.split('/');
    for (let i = 0; i < f.length; i++) {
      if (f[i] === '#') return true;
      if (t[i] === undefined || (f[i] !== '+' && f[i] !== t[i])) return false;
    }
    return f.length === t.length;
  };
  let current: string | null = null;
  for (const raw of aclText.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [word, ...rest] = line.split(/\s+/);
    if (word === 'user') {
      current = rest.join(' ');
      continue;
    }
    const [lineAccess, filter] = rest.length === 2 ? rest : ['readwrite', rest[0]];
    if (lineAccess !== access && lineAccess !== 'readwrite') continue;
    if (word === 'topic' && current === user && matches(filter!)) return true;
    if (word === 'pattern' && matches(filter!.replaceAll('%u', user))) return true;
  }
  return false;
}

describe('renderMosquittoAcl', () => {
  it('renders the same table aclAllows answers from, for every user, kind and direction', () => {
    const acl = renderMosquittoAcl(P);
    const everyTopic = ['town', 'village'].flatMap((s) => SITE_TOPIC_KINDS.map((k) => `${P}/sites/${s}/${k}`));
    everyTopic.push(`${P}/members/current`, `${P}/members/other`, `${P}/elsewhere`, 'oa/v2/sites/town/events');
    let compared = 0;
    for (const user of [CENTRAL_USERNAME, 'town', 'village']) {
      for (const topic of everyTopic) {
        expect(mosquittoGrants(acl, user, 'write', topic), `${user} write ${topic}`).toBe(allows(user, 'publish', topic));
        expect(mosquittoGrants(acl, user, 'read', topic), `${user} read ${topic}`).toBe(allows(user, 'subscribe', topic));
        compared++;
      }
    }
    expect(compared).toBe(3 * everyTopic.length);
  });

  it('writes the central user first and one pattern line per site topic, under the given prefix', () => {
    const acl = renderMosquittoAcl('county/v1');
    expect(acl).toContain('user central\ntopic readwrite county/v1/#\n');
    expect(acl).toContain('pattern read county/v1/members/current\n');
    expect(acl).toContain('pattern read county/v1/sites/%u/command\n');
    expect(acl).toContain('pattern write county/v1/sites/%u/command/reply\n');
    expect(acl.match(/^pattern /gm)).toHaveLength(SITE_TOPIC_KINDS.length + 1);
    expect(() => renderMosquittoAcl('county/#')).toThrow(/without wildcards/);
  });
});
