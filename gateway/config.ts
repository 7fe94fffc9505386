// The gateway's one configuration file (YAML), validated once at start and passed down.
// Nothing else reads settings ad hoc: a module gets the part of this it needs.
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { z } from 'zod';
import { HardwareConfigSchema, LockConfigSchema, MAIN_DOOR } from '../firmware-bridge/config.js';
import type { HardwareConfig, LockConfig } from '../firmware-bridge/config.js';
import { CLOCK_TRUST_DEFAULTS, CLOCK_TRUST_SOURCES } from './core/clock-trust.js';
import { DEPLOYMENT_KEY_MIN_BYTES, decodeDeploymentKey } from '../policies/cards.js';
import { formatIssues } from '../policies/errors.js';
import { checkTextSize, MAX_CONFIG_BYTES, MAX_KEY_FILE_BYTES, parseYamlDocument } from '../policies/input-text.js';
import { MemberImportMappingSchema } from './members/mapping.js';
import { readFileBytes, readTextFile } from '../kit/read-bounded.js';
import { Sip2ConfigSchema, resolveSip2Paths } from './sip2/config.js';
import { SoundConfigSchema, resolveSoundPaths } from './sound/config.js';
import { UplinkConfigSchema } from './uplink/config.js';
import { readKek } from './members/kek-command.js';
import { isSealedKey, SealedKeyError, unsealKey } from './members/sealed-key.js';
import { loadCentralKeys } from './uplink/verify.js';
import { isLoopbackHost } from '../kit/loopback.js';
import { readDisplayToken } from './http/display-token.js';

/** What fastify's trustProxy takes in a list (proxy-addr): an address, a CIDR range, or one of its named ranges. */
const ProxyAddressSchema = z.union([z.enum(['loopback', 'linklocal', 'uniquelocal']), z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()]);

const siteId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lower case letters, digits and dashes');

export const GatewayConfigSchema = z.strictObject({
  site: siteId,
  /** The policy file in force until the console or central sends a newer version. */
  policyFile: z.string().min(1),
  /** The lock of every door that does not name its own (`hardware.doors[].lock`); the schema is the hardware's. */
  lock: LockConfigSchema.prefault({}),
  store: z
    .strictObject({
      path: z.string().min(1).default('var/gateway.sqlite'),
      retentionDays: z.number().int().min(1).max(3650).default(30),
    })
    .prefault({}),
  help: z
    .strictObject({
      /** An acknowledged help call (the `helpButton` input) ends by itself this long after the acknowledgement, unless staff reset it first. */
      clearAfterAcknowledgedMinutes: z.number().int().min(1).max(24 * 60).default(30),
    })
    .prefault({}),
  clock: z
    .strictObject({
      /**
       * What vouches for the clock (docs/gateway.md, "Clock trust"): auto (any of the sources below), timesyncd,
       * chrony, ntp (the kernel's NTP state, or ntpq), rtc (set from a battery-backed RTC at boot), or fixed.
       */
      trust: z.enum(CLOCK_TRUST_SOURCES).default('auto'),
      syncMarker: z.string().min(1).default(CLOCK_TRUST_DEFAULTS.syncMarker),
      rtcDevice: z.string().min(1).default(CLOCK_TRUST_DEFAULTS.rtcDevice),
      chronySocket: z.string().min(1).default(CLOCK_TRUST_DEFAULTS.chronySocket),
    })
    .prefault({}),
  taps: z
    .strictObject({
      /** Taps of the same card at the same reader within this window are one tap (a card read twice). */
      repeatWindowMs: z.number().int().min(0).max(60_000).default(3000),
      /** How long the keypad waits for a PIN after a tap that needs one. */
      pinTimeoutMs: z.number().int().min(3000).max(120_000).default(15_000),
      /** Unknown-card bursts (docs/gateway.md, "Unknown-card bursts"): someone trying cards at one reader. */
      unknownCards: z
        .strictObject({
          /** More unknown cards than this at one reader within `windowSeconds` is a burst: the rest are refused at once. */
          burst: z.number().int().min(1).max(1000).default(10),
          windowSeconds: z.number().int().min(1).max(3600).default(60),
          /** The burst, and its alarm, end once the reader has seen no unknown card for this long. */
          quietSeconds: z.number().int().min(10).max(86_400).default(300),
          /** SIP2 queries about unknown cards, the whole gateway: on average, and at most at once. */
          lookupsPerMinute: z.number().int().min(1).max(600).default(6),
          lookupBurst: z.number().int().min(1).max(100).default(5),
        })
        .prefault({}),
    })
    .prefault({}),
  lights: z
    .strictObject({
      /** When open access turns the lights on: at its start, or at the first entry. */
      onAt: z.enum(['open-access-start', 'first-entry']).default('open-access-start'),
    })
    .prefault({}),
  /** The deployment key for card hashing: from OAG_DEPLOYMENT_KEY, or this file (hex or base64, at least 32 bytes). */
  deploymentKeyFile: z.string().optional(),
  /**
   * The key is sealed (`oag seal-key`): this command prints the 32-byte device key that unseals it, as hex
   * (`rpi-otp-private-key` on a Raspberry Pi 4/5 or CM4). With it, a plain key is refused (docs/install.md).
   */
  deploymentKeyUnseal: z
    .strictObject({
      command: z.array(z.string().min(1)).min(1, 'name the program, e.g. [rpi-otp-private-key]'),
      timeoutMs: z.number().int().min(100).max(60_000).default(5000),
    })
    .optional(),
  /** Required, drivers named: a config without it must not run a door controller that drives no door. */
  hardware: HardwareConfigSchema,
  members: z
    .strictObject({
      mapping: MemberImportMappingSchema.optional(),
      /**
       * `oag members import` refuses a file that would remove more than this share of the list in force (a
       * cut-short export must not empty the branch); `--max-removed-fraction` overrides it for one import.
       */
      maxRemovedFraction: z.number().min(0).max(1).default(0.5),
      /** With `mqtt:`: raise `member-list-stale` when the list was last confirmed current by central this long ago. */
      staleAfterDays: z.number().int().min(1).max(3650).default(30),
      /** Chunks asked for at once from central (each about 5,000 members, 450 kB). */
      windowChunks: z.number().int().min(1).max(32).default(8),
      /** Ask again when nothing of a requested window arrived in this time. */
      requestTimeoutMs: z.number().int().min(1000).max(600_000).default(20_000),
    })
    .prefault({}),
  http: z
    .strictObject({
      enabled: z.boolean().default(true),
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8080),
      /** https from the gateway itself: a PEM certificate (with its chain) and key, read at start. */
      tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
      /**
       * A TLS reverse proxy is the only way to the console from the network (docs/console.md): the console may then
       * listen beyond loopback in plain HTTP, and its session cookie is always Secure.
       */
      behindProxy: z.boolean().default(false),
      /**
       * Which proxies to believe about the client (X-Forwarded-For, X-Forwarded-Proto): fastify's trustProxy. false
       * (the default: the client is whoever connected), true (any: only when nothing but the proxy can reach the
       * port), a number of proxy hops, or a list of the proxies' addresses. The sign-in limit counts per client address.
       */
      trustProxy: z
        .union([z.boolean(), z.int().min(1, { error: 'must be at least 1 proxy hop' }).max(10, { error: 'must be at most 10 proxy hops' }), z.array(ProxyAddressSchema).min(1).max(32)], {
          error: 'must be false, true, a number of proxy hops (1 to 10) or a list of the proxies’ addresses (IPs, CIDR ranges, loopback, linklocal, uniquelocal)',
        })
        .default(false),
      /**
       * `auto`: the session cookie is Secure when the request came over https (as the trusted proxy says, with
       * trustProxy); `always`: whatever the request says. Left out: `always` with behindProxy, `auto` otherwise.
       */
      cookieSecure: z.enum(['auto', 'always']).optional(),
      /**
       * A file holding the door screen's token (`openssl rand -hex 32`), for a screen on another machine: it shows
       * `Authorization: Bearer` or `?token=`. Without it the door screen is served to this machine only (loopback).
       */
      displayTokenFile: z.string().min(1).optional(),
    })
    .superRefine((http, ctx) => {
      if (http.behindProxy && http.cookieSecure === 'auto' && http.trustProxy === false) {
        ctx.addIssue({
          code: 'custom',
          path: ['cookieSecure'],
          message:
            'auto behind a proxy (behindProxy: true) needs trustProxy, or every request looks like plain http and the cookie is never Secure: set trustProxy to the proxy, or leave cookieSecure out (always)',
        });
      }
    })
    .prefault({}),
  mqtt: UplinkConfigSchema.optional(),
  /** Ask the LMS over SIP2 about cards the member list does not know (docs/sip2.md). */
  sip2: Sip2ConfigSchema.optional(),
  /** Announcements through a loudspeaker (docs/sound.md); left out, the sounder only beeps. */
  sound: SoundConfigSchema.optional(),
  log: z
    .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
    .prefault({}),
});

export type GatewayConfig = z.infer<typeof GatewayConfigSchema>;
export type TrustProxySetting = GatewayConfig['http']['trustProxy'];

/** The console's cookie: as configured, else always Secure behind a TLS proxy (which hands requests on as http). */
export function consoleCookieSecure(http: GatewayConfig['http']): 'auto' | 'always' {
  return http.cookieSecure ?? (http.behindProxy ? 'always' : 'auto');
}
export type GatewayConfigInput = z.input<typeof GatewayConfigSchema>;

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly errors: string[],
  ) {
    super(`${file}: invalid configuration\n${errors.map((e) => `  ${e}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function parseGatewayConfig(input: unknown, file = 'config'): GatewayConfig {
  const result = GatewayConfigSchema.safeParse(input);
  if (!result.success) throw new ConfigError(file, formatIssues(result.error));
  return result.data;
}

/** Parse YAML text; relative paths in it are taken from `baseDir` (the config file's folder). */
export function checkGatewayConfigText(text: string, file = 'config', baseDir = '.'): GatewayConfig {
  const sized = checkTextSize(text, { what: '(file)', maxBytes: MAX_CONFIG_BYTES });
  if (!sized.ok) throw new ConfigError(file, [sized.error]);
  const doc = parseYamlDocument(text, '(file)');
  if (!doc.ok) {
    throw new ConfigError(
      file,
      doc.problems.map((p) => `(file): not valid YAML: ${p.message}${p.line === undefined ? '' : ` (line ${p.line}, column ${p.col ?? 1})`}`),
    );
  }
  const config = parseGatewayConfig(doc.value, file);
  return {
    ...config,
    policyFile: resolve(baseDir, config.policyFile),
    store: { ...config.store, path: config.store.path === ':memory:' ? ':memory:' : resolve(baseDir, config.store.path) },
    deploymentKeyFile: config.deploymentKeyFile === undefined ? undefined : resolve(baseDir, config.deploymentKeyFile),
    sip2: resolveSip2Paths(config.sip2, baseDir),
    sound: resolveSoundPaths(config.sound, baseDir),
    http: {
      ...config.http,
      ...(config.http.tls === undefined ? {} : { tls: { cert: resolve(baseDir, config.http.tls.cert), key: resolve(baseDir, config.http.tls.key) } }),
      ...(config.http.displayTokenFile === undefined ? {} : { displayTokenFile: resolve(baseDir, config.http.displayTokenFile) }),
    },
  };
}

/**
 * Why the local API must not listen as configured, or undefined. Beyond loopback the console carries staff
 * passwords, session cookies and door commands: only over TLS, built in (`http.tls`) or a proxy's (`http.behindProxy`).
 * `oag check-config` refuses such a config; the gateway runs the door without its local API (`local-api-failed`).
 */
export function httpExposureProblem(http: GatewayConfig['http']): string | undefined {
  if (!http.enabled || isLoopbackHost(http.host) || http.tls !== undefined || http.behindProxy) return undefined;
  return (
    `http.host: ${http.host} is reachable from the network and the console would be plain HTTP (staff passwords and ` +
    'sessions readable on the wire): set http.tls { cert, key } for https, or http.behindProxy: true when a TLS proxy ' +
    'is the only way in, or keep http.host on 127.0.0.1'
  );
}

/**
 * Sections whose loss leaves the door safe: without them the branch runs alone (mqtt), asks no library system
 * (sip2), has no console (http) or default sync and log settings. The door's own sections (site, lock, hardware,
 * store, policyFile…) have no such fallback: a config wrong there is refused.
 */
export const OPTIONAL_SECTIONS = ['mqtt', 'sip2', 'http', 'members', 'log', 'sound'] as const;

export interface ServiceConfig {
  config: GatewayConfig;
  /** Optional sections left out because they are invalid, each with its errors: the gateway raises config-invalid. */
  dropped: Array<{ section: string; errors: string[] }>;
}

/**
 * The config as the running service takes it: like `loadGatewayConfig`, except that an invalid optional section
 * is left out (the http section meaning no console) rather than keeping the door from starting. `oag check-config`
 * stays strict, so such a config is refused before it is deployed.
 */
export function loadGatewayConfigForService(path: string): ServiceConfig {
  try {
    return { config: loadGatewayConfig(path), dropped: [] };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const bySection = new Map<string, string[]>();
    for (const line of error.errors) {
      const section = /^([A-Za-z0-9]+)[.[:]/.exec(line)?.[1];
      if (section === undefined || !(OPTIONAL_SECTIONS as readonly string[]).includes(section)) throw error;
      bySection.set(section, [...(bySection.get(section) ?? []), line]);
    }
    const read = readTextFile(path, { what: '(file)', maxBytes: MAX_CONFIG_BYTES });
    const doc = read.ok ? parseYamlDocument(read.text, '(file)') : undefined;
    if (doc?.ok !== true || doc.value === null || typeof doc.value !== 'object') throw error;
    const kept: Record<string, unknown> = { ...(doc.value as Record<string, unknown>) };
    for (const section of bySection.keys()) delete kept[section];
    // An invalid http section means no console at all, not a console on defaults the staff did not choose.
    if (bySection.has('http')) kept.http = { enabled: false };
    const config = checkGatewayConfigText(stringifyYaml(kept), path, dirname(resolve(path)));
    return { config, dropped: [...bySection].map(([section, errors]) => ({ section, errors })) };
  }
}

export function loadGatewayConfig(path: string): GatewayConfig {
  const read = readTextFile(path, { what: '(file)', maxBytes: MAX_CONFIG_BYTES });
  if (!read.ok) throw new ConfigError(path, [read.error]);
  return checkGatewayConfigText(read.text, path, dirname(resolve(path)));
}

/**
 * Each door relay's safe level follows its lock type (the door's own `lock.type`, else the gateway's): every door is
 * locked whenever the software is not in control.
 */
export function withDoorSafeHardware(hardware: HardwareConfig, lockType: GatewayConfig['lock']['type']): HardwareConfig {
  const lockedLevel = (type: LockConfig['type']) => (type === 'fail-secure' ? 'inactive' : 'active');
  return {
    ...hardware,
    outputs: { ...hardware.outputs, door: { ...hardware.outputs.door, safe: lockedLevel(lockType) } },
    doors: hardware.doors.map((door) => ({ ...door, relay: { ...door.relay, safe: lockedLevel(door.lock?.type ?? lockType) } })),
  };
}

/** Every door's lock: the gateway's `lock:` with what the door's own `lock:` overrides; `main` first. */
export function doorLocks(config: Pick<GatewayConfig, 'lock' | 'hardware'>): Array<{ id: string; lock: LockConfig }> {
  return [{ id: MAIN_DOOR, lock: config.lock }, ...config.hardware.doors.map((door) => ({ id: door.id, lock: { ...config.lock, ...door.lock } }))];
}

const DoorSectionsSchema = GatewayConfigSchema.pick({ lock: true, hardware: true });

/**
 * The outputs and their safe levels, from the two sections that decide them (`hardware`, `lock.type`) and nothing
 * else: `oag outputs-safe` runs after the gateway died, and a section the door does not need (a broken `mqtt`, a
 * policy file gone) must not keep it from putting the relay at its safe level.
 */
export function loadDoorHardware(path: string): HardwareConfig {
  const read = readTextFile(path, { what: '(file)', maxBytes: MAX_CONFIG_BYTES });
  if (!read.ok) throw new ConfigError(path, [read.error]);
  const doc = parseYamlDocument(read.text, '(file)');
  if (!doc.ok) throw new ConfigError(path, doc.problems.map((p) => `(file): not valid YAML: ${p.message}`));
  const value = (doc.value !== null && typeof doc.value === 'object' ? doc.value : {}) as Record<string, unknown>;
  const parsed = DoorSectionsSchema.safeParse({ lock: value.lock, hardware: value.hardware });
  if (!parsed.success) throw new ConfigError(path, formatIssues(parsed.error));
  return withDoorSafeHardware(parsed.data.hardware, parsed.data.lock.type);
}

/**
 * Every file the config names besides the policy, read as the gateway would read it: what `oag check-config`
 * refuses up front, because the running gateway only raises it as an alarm (a missing MQTT password file is the
 * `uplink-failed` alarm and a branch that central never hears from). `env` stands for the service's environment:
 * a secret given there needs no file.
 */
export function checkReferencedFiles(config: GatewayConfig, env: NodeJS.ProcessEnv = process.env): string[] {
  const errors: string[] = [];
  const check = (setting: string, path: string | undefined): void => {
    if (path === undefined) return;
    const read = readFileBytes(path, { what: `${setting} (${path})`, maxBytes: 1024 * 1024 });
    if (!read.ok) errors.push(read.error);
  };
  check('http.tls.cert', config.http.enabled ? config.http.tls?.cert : undefined);
  check('http.tls.key', config.http.enabled ? config.http.tls?.key : undefined);
  if (config.http.enabled && config.http.displayTokenFile !== undefined) {
    try {
      readDisplayToken(config.http.displayTokenFile);
    } catch (error) {
      errors.push((error as Error).message);
    }
  }
  // A recording the loudspeaker would play instead of espeak-ng's words: only that it is a file there (a WAV is larger
  // than the limit of the files above, and aplay is what reads it).
  if (config.sound !== undefined && config.sound.driver !== 'none') {
    for (const [language, phrases] of Object.entries(config.sound.recordings)) {
      for (const [phrase, path] of Object.entries(phrases)) {
        if (!isReadableFile(path as string)) errors.push(`sound.recordings.${language}.${phrase}: ${String(path)} not found or not a readable file (a WAV file)`);
      }
    }
  }
  check('mqtt.passwordFile', config.mqtt?.passwordFile);
  check('mqtt.tls.ca', config.mqtt?.tls?.ca);
  check('mqtt.tls.cert', config.mqtt?.tls?.cert);
  check('mqtt.tls.key', config.mqtt?.tls?.key);
  // Not only readable: an Ed25519 public key each, or the branch would refuse everything central sends.
  if (config.mqtt !== undefined) {
    try {
      loadCentralKeys(config.mqtt.centralKeys);
    } catch (error) {
      errors.push((error as Error).message);
    }
  }
  if (config.sip2 !== undefined && (env.OAG_SIP2_PASSWORD ?? '') === '') {
    if (config.sip2.passwordFile === undefined) errors.push('sip2: no password (set OAG_SIP2_PASSWORD for the service, or sip2.passwordFile)');
    check('sip2.passwordFile', config.sip2.passwordFile);
  }
  if (config.sip2 !== undefined && typeof config.sip2.tls === 'object') check('sip2.tls.ca', config.sip2.tls.ca);
  // Without a key file the key comes from the service's environment (systemd's EnvironmentFile), not seen here.
  if (config.deploymentKeyFile !== undefined && (env.OAG_DEPLOYMENT_KEY ?? '') === '') {
    try {
      loadDeploymentKey(config, env);
    } catch (error) {
      if (error instanceof ConfigError) errors.push(...error.errors);
      else throw error;
    }
  }
  return errors;
}

function isReadableFile(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * The deployment key: environment first (systemd's EnvironmentFile), then the key file.
 * Secrets never live in the YAML itself.
 */
export function loadDeploymentKey(config: Pick<GatewayConfig, 'deploymentKeyFile'> & Partial<Pick<GatewayConfig, 'deploymentKeyUnseal'>>, env: NodeJS.ProcessEnv = process.env): Buffer {
  const fromEnv = env.OAG_DEPLOYMENT_KEY;
  const source = fromEnv !== undefined && fromEnv !== '' ? 'OAG_DEPLOYMENT_KEY' : config.deploymentKeyFile;
  if (source === undefined) {
    throw new ConfigError('deployment key', ['OAG_DEPLOYMENT_KEY: not set (and no deploymentKeyFile in the config); generate one with `openssl rand -hex 32`']);
  }
  const text = (source === 'OAG_DEPLOYMENT_KEY' ? fromEnv! : readKeyFile(source)).trim();
  const unseal = config.deploymentKeyUnseal;
  if (isSealedKey(text)) {
    if (unseal === undefined) throw new ConfigError('deployment key', [`${source}: a sealed key, but the config has no deploymentKeyUnseal to unseal it`]);
    try {
      const key = unsealKey(text, readKek(unseal));
      if (key.length < 32) throw new SealedKeyError('the sealed key is shorter than 32 bytes');
      return key;
    } catch (error) {
      if (error instanceof SealedKeyError) throw new ConfigError('deployment key', [`${source}: ${error.message}`]);
      throw error;
    }
  }
  // The config asks for sealing: a clear key here is the very thing it is meant to keep off the card.
  if (unseal !== undefined) throw new ConfigError('deployment key', [`${source}: not sealed, but deploymentKeyUnseal is set: seal it with \`oag seal-key\` and remove the clear key`]);
  return decodePlainKey(text, source);
}

/** A plain deployment key's text (hex or base64, at least 32 bytes) as bytes; `source` names it in the error. */
function decodePlainKey(text: string, source: string): Buffer {
  const key = decodeDeploymentKey(text);
  if (key === undefined || key.length < DEPLOYMENT_KEY_MIN_BYTES) {
    throw new ConfigError('deployment key', [`${source}: must be at least 32 bytes, written as hex or base64`]);
  }
  return key;
}

function readKeyFile(path: string): string {
  const read = readTextFile(path, { what: `deploymentKeyFile (${path})`, maxBytes: MAX_KEY_FILE_BYTES });
  if (!read.ok) throw new ConfigError('deployment key', [read.error]);
  return read.text;
}
