// Topic names, built in one place. Everything a site publishes or receives sits under `{prefix}/sites/{site}/`, so a
// broker ACL with one pattern per kind (`pattern write oa/v1/sites/%u/events`) confines each site to its own tree.
export const DEFAULT_PREFIX = 'oa/v1';

export const SITE_TOPIC_KINDS = ['availability', 'state', 'events', 'command', 'command/reply', 'policy', 'members/request', 'members/chunk', 'members/change', 'members/change/reply'] as const;
export type SiteTopicKind = (typeof SITE_TOPIC_KINDS)[number];

/** Topics outside any site's tree, published by central for every site to read: `{prefix}/{kind}`. */
export const SHARED_TOPIC_KINDS = ['members/current'] as const;
export type SharedTopicKind = (typeof SHARED_TOPIC_KINDS)[number];

export interface SiteTopics {
  availability: string;
  state: string;
  events: string;
  command: string;
  /** Where a gateway answers commands: the response topic central asks for, and the fallback on MQTT 3.1.1. */
  commandReply: string;
  policy: string;
  /** The branch asks central for member-list chunks here. */
  membersRequest: string;
  /** Central answers with chunks (or a refusal) here. */
  membersChunk: string;
  /** A change staff made at the branch's desk (member-desk.ts), to central. */
  membersChange: string;
  /** Central's answer to a desk change. */
  membersChangeReply: string;
  /** The root of this site's tree, ending in `/`: a response topic outside it is never answered. */
  root: string;
}

/** Throws on a prefix that could not be a topic's first levels. */
export function checkPrefix(prefix: string): string {
  if (prefix === '' || /[#+]/.test(prefix) || prefix.startsWith('/') || prefix.endsWith('/')) {
    throw new Error(`MQTT topic prefix "${prefix}" must be non-empty, without wildcards or a leading/trailing slash`);
  }
  return prefix;
}

/** A site id: also the site's MQTT username, so it must be one topic level that no ACL pattern can widen. */
export function isSiteId(site: string): boolean {
  return /^[a-z0-9][a-z0-9-]{0,62}$/.test(site);
}

function checkSite(site: string): string {
  if (!isSiteId(site)) throw new Error(`site id "${site}" must be lower case letters, digits and dashes`);
  return site;
}

export function topics(prefix: string, site: string): SiteTopics {
  const root = `${checkPrefix(prefix)}/sites/${checkSite(site)}/`;
  return {
    availability: `${root}availability`,
    state: `${root}state`,
    events: `${root}events`,
    command: `${root}command`,
    commandReply: `${root}command/reply`,
    policy: `${root}policy`,
    membersRequest: `${root}members/request`,
    membersChunk: `${root}members/chunk`,
    membersChange: `${root}members/change`,
    membersChangeReply: `${root}members/change/reply`,
    root,
  };
}

/** Every site's every topic. */
export function allSitesFilter(prefix: string): string {
  return `${checkPrefix(prefix)}/sites/+/#`;
}

/** The retained announcement of the current member list, readable by every site. */
export function membersCurrentTopic(prefix: string): string {
  return `${checkPrefix(prefix)}/members/current`;
}

/** The site topics central takes in: everything sites publish, and the policies it retains (not its own commands or chunks). */
export const CENTRAL_SITE_KINDS: readonly SiteTopicKind[] = ['availability', 'state', 'events', 'command/reply', 'policy', 'members/request', 'members/change'];

/** What central subscribes to: one filter per kind it takes in, across every site. */
export function centralFilters(prefix: string): string[] {
  return CENTRAL_SITE_KINDS.map((kind) => `${checkPrefix(prefix)}/sites/+/${kind}`);
}

/** `oa/v1/sites/leeds-central/events` → `{ site: 'leeds-central', kind: 'events' }`; anything else → null. */
export function parseTopic(prefix: string, topic: string): { site: string; kind: SiteTopicKind } | null {
  const head = `${prefix}/sites/`;
  if (!topic.startsWith(head)) return null;
  const rest = topic.slice(head.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return null;
  const site = rest.slice(0, slash);
  const kind = rest.slice(slash + 1);
  if (!isSiteId(site)) return null;
  return (SITE_TOPIC_KINDS as readonly string[]).includes(kind) ? { site, kind: kind as SiteTopicKind } : null;
}
