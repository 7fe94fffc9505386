// Central's one configuration file (YAML or JSON), validated once and passed down.
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { SiteIdSchema } from '../policies/contract/common.js';
import { DEFAULT_PREFIX } from '../policies/contract/topics.js';
import { formatIssues } from '../policies/errors.js';
import { readFileBytes } from '../kit/read-bounded.js';
import { decodeUtf8, MAX_CONFIG_BYTES, parseYamlDocument } from '../policies/input-text.js';
import { AlertChannelsConfigSchema, resolveAlertChannelPaths } from './alerts/channels-config.js';
import { OidcConfigSchema } from './auth/oidc-config.js';
import { CentralMembersConfigSchema } from './members/config.js';
import { isLoopbackHost } from '../kit/loopback.js';

const port = z.int().min(0).max(65_535);
const hostName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)$/, { error: 'must be a host name or address without a port: central.example.org, 10.0.0.5, [::1]' });

/** A branch's name or a region's, as the dashboard shows it. */
const placeName = z.string().trim().min(1, { error: 'must not be empty' }).max(100, { error: 'must be at most 100 characters' });
const siteKey = { error: (issue: { code?: string }) => (issue.code === 'invalid_key' ? 'must be a site id: lower case letters, digits and dashes (at most 63)' : undefined) };

/** Central without `broker` runs the embedded one, which takes no client without a password. */
export const EMBEDDED_PASSWORD_FILE_REQUIRED =
  'required: the embedded broker takes only clients with a password; make the file with oag central mqtt-passwd FILE SITE-ID --generate';

/** Only these keep the embedded broker's traffic on this machine. */

export const CentralConfigSchema = z
  .strictObject({
    prefix: z
      .string()
      .min(1)
      .refine((p) => !/[#+]/.test(p) && !p.startsWith('/') && !p.endsWith('/'), {
        error: 'must be a topic prefix without wildcards or a leading/trailing slash',
      })
      .default(DEFAULT_PREFIX),
    /** An external broker (Mosquitto, EMQX, HiveMQ…). Leave it out to run the embedded one. */
    broker: z
      .strictObject({
        url: z.string().regex(/^(mqtts?|wss?):\/\/[^\s]+$/, { error: 'must be an mqtt://, mqtts://, ws:// or wss:// URL' }),
        /** Stable, so the broker keeps central's session and queues events while central restarts. */
        clientId: z.string().min(1).max(128).default('oag-central'),
        username: z.string().min(1).optional(),
        password: z.string().optional(),
        passwordFile: z.string().min(1).optional(),
        tls: z
          .strictObject({
            ca: z.string().min(1).optional(),
            cert: z.string().min(1).optional(),
            key: z.string().min(1).optional(),
            rejectUnauthorized: z.boolean().default(true),
          })
          .optional(),
        protocolVersion: z.union([z.literal(5), z.literal(4)]).default(5),
        /** How long the broker keeps central's queued events while central is away. */
        sessionExpirySeconds: z.int().min(0).default(7 * 86_400),
        /** Several centrals on one broker: the group they share the branches' events in (docs/central.md, "Several instances"). */
        shareGroup: z
          .string()
          .max(64)
          .regex(/^[a-z0-9-]+$/, { error: 'must be lower case letters, digits and dashes' })
          .optional(),
      })
      .check((ctx) => {
        if (ctx.value.shareGroup !== undefined && ctx.value.protocolVersion !== 5) {
          ctx.issues.push({ code: 'custom', path: ['shareGroup'], message: 'needs protocolVersion 5: MQTT 3.1.1 has no shared subscriptions', input: ctx.value.shareGroup });
        }
      })
      .optional(),
    /** The embedded aedes broker (MQTT 3.1.1), for a pilot on one box. Port 0 picks a free one. */
    embedded: z
      .strictObject({
        host: z.string().default('127.0.0.1'),
        port: port.default(1883),
        /** Mosquitto-format password file: every client is one of its users (`oag central mqtt-passwd FILE SITE`). */
        passwordFile: z.string({ error: EMBEDDED_PASSWORD_FILE_REQUIRED }).min(1),
        /** PEM certificate and key: required when `host` is not a loopback address. */
        tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
      })
      .optional(),
    http: z
      .strictObject({
        host: z.string().default('127.0.0.1'),
        port: port.default(8090),
        /**
         * The names browsers may reach central by (the Host header, without the port). Default: localhost,
         * 127.0.0.1, [::1], http.host and this machine's name. Behind a proxy, add the public name. Another Host gets
         * 421: a page on another site that rebinds its name to central's address cannot read or change anything.
         */
        allowedHosts: z.array(hostName).min(1).max(100).optional(),
        /**
         * Fastify's trustProxy: true (trust every proxy: only when central is reachable through the proxy alone), a
         * number of hops, or the proxy's addresses (`10.0.0.5`, `10.0.0.0/8`, a list). Then the client's address (for
         * the sign-in limit and the audit) and https come from X-Forwarded-For and X-Forwarded-Proto.
         */
        trustProxy: z
          .union([z.boolean(), z.int().min(1).max(16), z.string().min(1).max(1000), z.array(z.string().min(1).max(64)).min(1).max(100)])
          .default(false),
        /** `auto`: the session cookie is Secure when the request came over https; `always`: also when a proxy does TLS. */
        cookieSecure: z.enum(['auto', 'always']).default('auto'),
        /**
         * Central's address as people reach it (`https://central.example.org`), for links it sends out (an alarm
         * e-mail's acknowledgement link). Default: oidc.publicUrl, else the address central listens on.
         */
        publicUrl: z.url({ protocol: /^https?$/ }).optional(),
      })
      .prefault({}),
    /** Central's accounts, sessions and sign-in limits (docs/central.md, *Signing in*). */
    auth: z
      .strictObject({
        /** A session ends after this long without a request… */
        sessionIdleMinutes: z.int().min(5).max(7 * 24 * 60).default(8 * 60),
        /** …and this long after signing in, whatever happens. */
        sessionMaxHours: z.int().min(1).max(30 * 24).default(12),
        /** Wrong passwords for one account within `loginWindowMinutes` before that account is refused for a while. */
        loginFailuresPerAccount: z.int().min(1).max(1000).default(10),
        /** Wrong passwords from one client address (any account) within the window: higher, as an office shares one. */
        loginFailuresPerAddress: z.int().min(1).max(10_000).default(50),
        loginWindowMinutes: z.int().min(1).max(24 * 60).default(15),
      })
      .prefault({}),
    /** Single sign-on over OpenID Connect; without it, local accounts only. */
    oidc: OidcConfigSchema.optional(),
    store: z
      .strictObject({
        /** SQLite file; `:memory:` for tests. */
        path: z.string().min(1).default('var/central.sqlite'),
        /** Events older than this are deleted (daily). */
        retentionDays: z.int().min(1).max(3650).default(400),
        /**
         * After this many days, the card holder's pseudonym is blanked in the events central keeps (daily); the
         * events and every figure counted from them stay until `retentionDays` (docs/privacy.md).
         */
        personRetentionDays: z.int().min(1).max(400).default(30),
        /**
         * Central's history (events, states, policies, commands) in PostgreSQL instead of the SQLite file, so that
         * several central instances share it (docs/central.md "Several instances"), with the accounts, sessions, tokens
         * and audit. Incidents, the outbox and the member list stay in `path` for now.
         */
        postgres: z
          .strictObject({
            /** A file holding the connection URL (postgres://user:password@host/db): a secret, never in this file. */
            urlFile: z.string().min(1),
            /** Connections each instance keeps. */
            poolSize: z.int().min(1).max(100).default(10),
          })
          .optional(),
      })
      .prefault({}),
    /** The councils' reporting time zone: days and hours of the figures are counted in it. */
    timezone: z.string().default('Europe/London'),
    /**
     * The deployment key that card numbers are hashed with (the gateways' key): OAG_DEPLOYMENT_KEY, else this file
     * (hex or base64, at least 32 bytes). Without one, central distributes no member list.
     */
    deploymentKeyFile: z.string().min(1).optional(),
    /**
     * Central's Ed25519 signing key (PKCS8 PEM, made by `oag central signing-key FILE`): every command, policy and
     * member list it sends is signed with it, and branches act on nothing else (docs/central.md, *Signing*).
     * Required: central does not start without it.
     */
    signing: z.strictObject({ keyFile: z.string().min(1) }).optional(),
    /** The member list: LMS import, versions, distribution (docs/members.md). */
    members: CentralMembersConfigSchema.prefault({}),
    /** Alarms reaching people (docs/alerts.md): the channels, the outbox, and the acknowledgement links. */
    alerts: AlertChannelsConfigSchema.extend({
      /** How long the one-time link in an e-mail or SMS acknowledges. */
      linkTtlMinutes: z.int().min(1).max(7 * 24 * 60).default(24 * 60),
      /** How often escalation looks for what is due (tests and the bench shorten it). */
      tickSeconds: z.int().min(1).max(300).default(15),
    }).prefault({}),
    /**
     * What the dashboard calls each branch and the region (or authority) it groups it under: `sites: { town: { name:
     * Town Library, region: North } }`, or a region's list `regions: { North: [town, village] }`, or both where they
     * agree. A branch named in neither is in "Other" (docs/central.md, *The dashboard*).
     */
    sites: z.record(SiteIdSchema, z.strictObject({ name: placeName.optional(), region: placeName.optional() }), siteKey).default({}),
    regions: z.record(placeName, z.array(SiteIdSchema).max(10_000)).default({}),
    /** How long a command waits for the branch's answer before the API says 504. */
    commandTimeoutMs: z.int().min(100).max(120_000).default(5000),
    log: z
      .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .prefault({}),
  })
  .check((ctx) => {
    if (ctx.value.broker && ctx.value.embedded) {
      ctx.issues.push({ code: 'custom', path: ['embedded'], message: 'use either broker or embedded, not both', input: ctx.value.embedded });
    }
    // Instances sharing the events each store only their share: on their own SQLite files the history would be split.
    if (ctx.value.broker?.shareGroup !== undefined && ctx.value.store.postgres === undefined) {
      ctx.issues.push({
        code: 'custom',
        path: ['store', 'postgres'],
        message: 'required with broker.shareGroup: the instances of a share group each store a share of the events, so they must share one PostgreSQL history',
        input: ctx.value.store,
      });
    }
    const embedded = ctx.value.embedded;
    if (embedded && embedded.tls === undefined && !isLoopbackHost(embedded.host)) {
      ctx.issues.push({
        code: 'custom',
        path: ['embedded', 'tls'],
        message: `required when embedded.host is not a loopback address (${embedded.host}): passwords would cross the network in clear`,
        input: embedded,
      });
    }
    // A branch is in one region: listed twice, or listed under one and given another in `sites`, is a mistake to name.
    const listedIn = new Map<string, string>();
    for (const [region, ids] of Object.entries(ctx.value.regions)) {
      ids.forEach((id, i) => {
        const before = listedIn.get(id) ?? ctx.value.sites[id]?.region;
        if (before !== undefined && before !== region) {
          ctx.issues.push({ code: 'custom', path: ['regions', region, i], message: `${id} is in region ${JSON.stringify(before)} already: a branch is in one region`, input: id });
        }
        listedIn.set(id, region);
      });
    }
    const tls = ctx.value.broker?.tls;
    if ((tls?.cert === undefined) !== (tls?.key === undefined)) {
      ctx.issues.push({ code: 'custom', path: ['broker', 'tls'], message: 'cert and key go together', input: tls });
    }
  });

export type CentralConfig = z.output<typeof CentralConfigSchema>;
export type CentralConfigInput = z.input<typeof CentralConfigSchema>;

export class CentralConfigError extends Error {
  constructor(
    readonly file: string,
    readonly errors: string[],
  ) {
    super(`${file}: invalid configuration\n${errors.map((e) => `  ${e}`).join('\n')}`);
    this.name = 'CentralConfigError';
  }
}

export function parseCentralConfig(input: unknown, file = 'config'): CentralConfig {
  const result = CentralConfigSchema.safeParse(input ?? {});
  if (!result.success) throw new CentralConfigError(file, formatIssues(result.error));
  return result.data;
}

/** Reads a YAML (or JSON) file: at most MAX_CONFIG_BYTES, strict UTF-8; relative paths in it are taken from the file's folder. */
export function loadCentralConfig(path: string): CentralConfig {
  const read = readFileBytes(path, { what: '(file)', maxBytes: MAX_CONFIG_BYTES });
  const text = read.ok ? decodeUtf8(read.bytes, { what: '(file)', maxBytes: MAX_CONFIG_BYTES }) : read;
  if (!text.ok) throw new CentralConfigError(path, [text.error]);
  const doc = parseYamlDocument(text.text, '(file)');
  if (!doc.ok) {
    throw new CentralConfigError(
      path,
      doc.problems.map((p) => `(file): not valid YAML: ${p.message}${p.line === undefined ? '' : ` (line ${p.line}, column ${p.col ?? 1})`}`),
    );
  }
  const raw = doc.value;
  const config = parseCentralConfig(raw, path);
  const base = dirname(resolve(path));
  const rel = (p: string | undefined): string | undefined => (p === undefined ? undefined : resolve(base, p));
  return {
    ...config,
    store: {
      ...config.store,
      path: config.store.path === ':memory:' ? ':memory:' : resolve(base, config.store.path),
      postgres: config.store.postgres && { ...config.store.postgres, urlFile: resolve(base, config.store.postgres.urlFile) },
    },
    deploymentKeyFile: rel(config.deploymentKeyFile),
    signing: config.signing && { keyFile: resolve(base, config.signing.keyFile) },
    oidc: config.oidc && { ...config.oidc, clientSecretFile: rel(config.oidc.clientSecretFile) },
    alerts: { ...config.alerts, ...resolveAlertChannelPaths(config.alerts, base) },
    members: {
      ...config.members,
      watch: config.members.watch && { ...config.members.watch, folder: resolve(base, config.members.watch.folder) },
      koha: config.members.koha && { ...config.members.koha, clientSecretFile: resolve(base, config.members.koha.clientSecretFile) },
    },
    embedded: config.embedded && {
      ...config.embedded,
      passwordFile: resolve(base, config.embedded.passwordFile),
      tls: config.embedded.tls && { cert: resolve(base, config.embedded.tls.cert), key: resolve(base, config.embedded.tls.key) },
    },
    broker: config.broker && {
      ...config.broker,
      passwordFile: rel(config.broker.passwordFile),
      tls: config.broker.tls && { ...config.broker.tls, ca: rel(config.broker.tls.ca), cert: rel(config.broker.tls.cert), key: rel(config.broker.tls.key) },
    },
  };
}
