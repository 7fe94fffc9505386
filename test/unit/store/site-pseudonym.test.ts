import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SITE_SECRET_SETTING, readSiteSecret, sitePseudonym } from '../../../gateway/core/site-pseudonym.js';
import { openStore } from '../../../gateway/store/index.js';
import { createPseudonymizer } from '../../../policies/pseudonym.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const storePath = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'oag-pseudonym-'));
  dirs.push(dir);
  return join(dir, 'gateway.sqlite');
};
const card = Buffer.alloc(32, 0xa1);

function quietLogger(): { warnings: string[]; warn(details: object, message: string): void } {
  const warnings: string[] = [];
  return { warnings, warn: (_details, message) => warnings.push(message) };
}

describe('createPseudonymizer', () => {
  it('gives 8 hex characters that depend on the secret, and refuses a short secret', () => {
    const a = createPseudonymizer(Buffer.alloc(32, 1));
    const b = createPseudonymizer(Buffer.alloc(32, 2));
    expect(a(card)).toMatch(/^[0-9a-f]{8}$/);
    expect(a(card)).toBe(a(Buffer.from(card)));
    expect(a(card)).not.toBe(b(card));
    expect(() => createPseudonymizer(Buffer.alloc(31))).toThrow('at least 32 bytes');
  });
});

describe("a branch's pseudonym secret", () => {
  it('is made once, kept in the store, and gives the same pseudonyms after the store is opened again', () => {
    const path = storePath();
    const first = openStore(path);
    const logger = quietLogger();
    const before = sitePseudonym(first.settings, logger)(card);
    first.close();
    const again = openStore(path);
    expect(readSiteSecret(again.settings)?.length).toBe(32);
    expect(sitePseudonym(again.settings, logger)(card)).toBe(before);
    again.close();
    expect(logger.warnings).toEqual([]);
  });

  it('lets a read-only store without a secret run with one of its own, and says so', () => {
    const path = storePath();
    openStore(path).close();
    const readonly = openStore(path, { readonly: true });
    const logger = quietLogger();
    expect(sitePseudonym(readonly.settings, logger)(card)).toMatch(/^[0-9a-f]{8}$/);
    expect(readSiteSecret(readonly.settings)).toBeUndefined();
    expect(logger.warnings).toEqual(["the branch's pseudonym secret could not be read or saved; this run's pseudonyms are its own"]);
    readonly.close();
  });

  it('does not take a damaged secret as the key', () => {
    const store = openStore(':memory:');
    store.settings.set(SITE_SECRET_SETTING, 'short');
    const logger = quietLogger();
    const pseudonym = sitePseudonym(store.settings, logger);
    expect(pseudonym(card)).toMatch(/^[0-9a-f]{8}$/);
    expect(logger.warnings).toHaveLength(1);
    store.close();
  });
});
