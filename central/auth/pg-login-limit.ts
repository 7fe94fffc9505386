// The sign-in limit when central runs as several instances on one PostgreSQL: kit/auth/login-limit.ts's rule (per
// account and per address, in a sliding window), its failures kept in the database rather than in one instance's
// memory, so that ten wrong passwords spread by a load balancer over three instances are ten, not three and a bit.
// Only hashed account names and addresses are stored (the name typed may be a password typed into the wrong box).
import type { PgPool } from '../pg/pool.js';
import { accountKey, addressKey, limitAnswer, type LimitAnswer, type LoginLimit } from '../../kit/auth/login-limit.js';

/** Central's sign-in limit, kept in memory (one instance) or in PostgreSQL (several). */
export interface SignInLimit {
  readonly limit: LoginLimit;
  check(account: string, address: string): LimitAnswer | Promise<LimitAnswer>;
  failed(account: string, address: string): void | Promise<void>;
  succeeded(account: string): void | Promise<void>;
}

export class PgLoginLimiter implements SignInLimit {
  constructor(
    readonly limit: LoginLimit,
    private readonly pool: PgPool,
    private readonly clock: { now(): Date },
  ) {}

  async check(account: string, address: string): Promise<LimitAnswer> {
    const now = this.clock.now().getTime();
    const keys = [accountKey(account), addressKey(address)];
    const { rows } = await this.pool.query<{ key: string; times: string[] }>(
      `SELECT key, array_agg((extract(epoch FROM at) * 1000)::bigint::text ORDER BY at) AS times
         FROM central_login_failures WHERE key = ANY($1) AND at > $2 GROUP BY key`,
      [keys, new Date(now - this.limit.windowMs)],
    );
    const times = (key: string): number[] => (rows.find((r) => r.key === key)?.times ?? []).map(Number);
    return limitAnswer(this.limit, times(keys[0]!), times(keys[1]!), now);
  }

  async failed(account: string, address: string): Promise<void> {
    const at = this.clock.now();
    // The window's end: what is older decides nothing any more, whichever key it is under.
    await this.pool.query(
      `WITH gone AS (DELETE FROM central_login_failures WHERE at <= $3)
       INSERT INTO central_login_failures (key, at) SELECT unnest($1::text[]), $2`,
      [[accountKey(account), addressKey(address)], at, new Date(at.getTime() - this.limit.windowMs)],
    );
  }

  /** The account's own failures end with a sign-in; the address's stay (one known password must not reset them). */
  async succeeded(account: string): Promise<void> {
    await this.pool.query('DELETE FROM central_login_failures WHERE key = $1', [accountKey(account)]);
  }
}
