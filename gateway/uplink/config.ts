// The `mqtt:` section of the gateway's config. Leave it out and the gateway runs alone, keeping its outbox.
import { z } from 'zod';
import { DEFAULT_PREFIX } from '../../policies/contract/topics.js';

export const UplinkConfigSchema = z
  .strictObject({
    /** `mqtts://broker.example.org:8883` (TLS) or `mqtt://…` (a lab, or the embedded broker on one box). */
    url: z.string().regex(/^(mqtts?|wss?):\/\/[^\s]+$/, { error: 'must be an mqtt://, mqtts://, ws:// or wss:// URL' }),
    prefix: z
      .string()
      .min(1)
      .refine((p) => !/[#+]/.test(p) && !p.startsWith('/') && !p.endsWith('/'), {
        error: 'must be a topic prefix without wildcards or a leading/trailing slash',
      })
      .default(DEFAULT_PREFIX),
    /** Default `oag-{site}`: stable, so the broker resumes the session. */
    clientId: z.string().min(1).max(128).optional(),
    /** Mosquitto ACL `pattern` lines use the username as the site id. */
    username: z.string().min(1).optional(),
    password: z.string().optional(),
    /** A file holding the password (kept out of the config file; e.g. a systemd credential). */
    passwordFile: z.string().min(1).optional(),
    tls: z
      .strictObject({
        /** PEM file of the CA that signed the broker's certificate. */
        ca: z.string().min(1).optional(),
        /** PEM client certificate and key, when the broker asks for one. */
        cert: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
        rejectUnauthorized: z.boolean().default(true),
      })
      .optional(),
    /**
     * 5 (default): MQTT 5, with the response topic and correlation data on commands. 4: MQTT 3.1.1, for a broker that
     * speaks only that (central's embedded aedes broker); commands are then matched by their id.
     */
    protocolVersion: z.union([z.literal(5), z.literal(4)]).default(5),
    keepalive: z.int().min(5).max(3600).default(30),
    /** How long the broker keeps the session (subscriptions) while the gateway is away. */
    sessionExpirySeconds: z.int().min(0).max(4_294_967_295).default(86_400),
    /** First reconnect delay; doubles on every failed attempt up to `reconnectMaxMs`. */
    reconnectPeriodMs: z.int().min(100).max(600_000).default(1000),
    reconnectMaxMs: z.int().min(100).max(3_600_000).default(60_000),
    /** Most events sent and not yet acknowledged at once. */
    eventBatch: z.int().min(1).max(1000).default(50),
    /**
     * The public key files (PEM) of central's signing key, from install: the gateway acts on no command, policy or
     * member list that one of them did not sign. Two during a rollover (docs/central.md, *Signing*).
     */
    centralKeys: z
      .array(z.string().min(1), {
        error: (issue) => (issue.input === undefined ? "required: the public key file of central's signing key (oag central signing-key --public FILE)" : undefined),
      })
      .min(1, { error: "must name at least one public key file of central's signing key" })
      .max(4, { error: 'at most 4 keys (two are enough for a rollover)' }),
  })
  .check((ctx) => {
    const c = ctx.value;
    if (c.password !== undefined && c.passwordFile !== undefined) {
      ctx.issues.push({ code: 'custom', path: ['passwordFile'], message: 'use either password or passwordFile, not both', input: c.passwordFile });
    }
    if ((c.tls?.cert === undefined) !== (c.tls?.key === undefined)) {
      ctx.issues.push({ code: 'custom', path: ['tls', c.tls?.cert === undefined ? 'cert' : 'key'], message: 'cert and key go together', input: c.tls });
    }
    if (c.reconnectMaxMs < c.reconnectPeriodMs) {
      ctx.issues.push({ code: 'custom', path: ['reconnectMaxMs'], message: 'must be at least reconnectPeriodMs', input: c.reconnectMaxMs });
    }
  });

export type UplinkConfig = z.output<typeof UplinkConfigSchema>;
export type UplinkConfigInput = z.input<typeof UplinkConfigSchema>;
