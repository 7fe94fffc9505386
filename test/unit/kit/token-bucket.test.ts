import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../../kit/token-bucket.js';

describe('TokenBucket', () => {
  it('says how long until the next token once the burst is spent', () => {
    let now = 0;
    const bucket = new TokenBucket({ perMinute: 6, burst: 2 }, () => now);
    expect(bucket.retryInMs()).toBe(0);
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, false]);
    expect(bucket.retryInMs()).toBe(10_000);
    now += 4_000;
    expect(bucket.retryInMs()).toBe(6_000);
    now += 6_000;
    expect(bucket.take()).toBe(true);
  });
});
