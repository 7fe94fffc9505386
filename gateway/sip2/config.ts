// The `sip2:` section of the gateway's config. Leave it out and the gateway decides from the member list alone.
// The password is never in the YAML: OAG_SIP2_PASSWORD (systemd's EnvironmentFile) or `passwordFile`.
import { resolve } from 'node:path';
import { z } from 'zod';
import { Sip2MappingSchema } from './mapping.js';

const sipText = z.string().refine((v) => !/[|\r\n]/.test(v), { error: 'must not contain "|" or a line break' });

export const Sip2ConfigSchema = z
  .strictObject({
    host: z.string().min(1),
    port: z.int().min(1).max(65535),
    /** TLS to the ACS (or to a stunnel in front of it). `true` for the system's CAs, or the CA file to trust. */
    tls: z
      .union([
        z.boolean(),
        z.strictObject({
          ca: z.string().min(1).optional(),
          /** The name on the ACS's certificate, when it differs from `host`. */
          servername: z.string().min(1).optional(),
          rejectUnauthorized: z.boolean().default(true),
        }),
      ])
      .default(false),
    /** AO: the institution id the LMS expects. */
    institutionId: sipText.pipe(z.string().min(1)),
    /** CN: the SIP2 login user. */
    user: sipText.pipe(z.string().min(1)),
    /** A file holding the CO login password; otherwise OAG_SIP2_PASSWORD. */
    passwordFile: z.string().min(1).optional(),
    /** CP: the location code of this terminal, when the LMS wants one. */
    locationCode: sipText.optional(),
    /** AC: terminal password, when the LMS wants one. */
    terminalPassword: sipText.optional(),
    /** Patron information (63, default: carries the extension fields) or patron status (23). */
    message: z.enum(['patron-information', 'patron-status']).default('patron-information'),
    /** From the tap to "unknown card" when the LMS has not answered: short, someone is standing at the door. */
    timeoutMs: z.int().min(200).max(5000).default(1500),
    /** How long a patron found online is decided locally before the LMS is asked again. */
    cacheMinutes: z.int().min(0).max(7 * 24 * 60).default(60),
    /** How long "no such patron" is remembered (a card tapped again and again asks the LMS once). */
    notFoundCacheSeconds: z.int().min(0).max(3600).default(60),
    /** An SC status (99) when the link has been idle this long, so a dead connection is found before a tap is. */
    keepaliveSeconds: z.int().min(0).max(3600).default(60),
    /** First reconnect delay; doubles on every failed attempt up to `reconnectMaxMs`. */
    reconnectMinMs: z.int().min(50).max(60_000).default(1000),
    reconnectMaxMs: z.int().min(50).max(600_000).default(60_000),
    mapping: Sip2MappingSchema.prefault({}),
    /** The second opinion after a grant, when the policy asks for it (rules.sip2SecondOpinion; docs/sip2.md). */
    secondOpinion: z
      .strictObject({
        /** A card is asked about at most once in this long, however often it is tapped. */
        askAgainMinutes: z.int().min(1).max(24 * 60).default(10),
        /** Questions a minute on average, and at most at once: the same link serves unknown cards at the door. */
        perMinute: z.int().min(1).max(600).default(30),
        burst: z.int().min(1).max(100).default(5),
        /** Cards waiting to be asked about; past this a grant is not followed up (counted in the log). */
        queue: z.int().min(1).max(1000).default(50),
        /** A block the list has not caught up with by then is lifted (the library system is asked again at the next grant). */
        blockHours: z.int().min(1).max(30 * 24).default(72),
      })
      .prefault({}),
  })
  .check((ctx) => {
    const c = ctx.value;
    if (c.reconnectMaxMs < c.reconnectMinMs) {
      ctx.issues.push({ code: 'custom', path: ['reconnectMaxMs'], message: 'must be at least reconnectMinMs', input: c.reconnectMaxMs });
    }
  });

export type Sip2Config = z.output<typeof Sip2ConfigSchema>;
export type Sip2ConfigInput = z.input<typeof Sip2ConfigSchema>;

/** Relative paths in the section are taken from the config file's folder. */
export function resolveSip2Paths(config: Sip2Config | undefined, baseDir: string): Sip2Config | undefined {
  if (config === undefined) return undefined;
  const tls = typeof config.tls === 'object' && config.tls.ca !== undefined ? { ...config.tls, ca: resolve(baseDir, config.tls.ca) } : config.tls;
  return {
    ...config,
    tls,
    passwordFile: config.passwordFile === undefined ? undefined : resolve(baseDir, config.passwordFile),
  };
}
