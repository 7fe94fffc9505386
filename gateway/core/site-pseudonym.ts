// This branch's pseudonyms (policies/pseudonym.ts): keyed with a secret the branch makes at its first start and
// keeps in its own store. It is sent nowhere, not even to central, which holds every card hash and so could link
// two branches' pseudonyms if it could compute them; and it is not derived from the deployment key for the same
// reason. Kept in the store so staff see the same pseudonym for a card after every restart.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { PSEUDONYM_SECRET_BYTES, createPseudonymizer } from '../../policies/pseudonym.js';
import type { SettingsStore } from '../store/index.js';

export const SITE_SECRET_SETTING = 'site-secret';
const SiteSecretSchema = z.string().regex(new RegExp(`^[0-9a-f]{${PSEUDONYM_SECRET_BYTES * 2}}$`));

/** The branch's secret from its store; undefined before the first start made one. Throws StoreError for a damaged one. */
export function readSiteSecret(settings: Pick<SettingsStore, 'get'>): Buffer | undefined {
  const hex = settings.get(SITE_SECRET_SETTING, SiteSecretSchema);
  return hex === undefined ? undefined : Buffer.from(hex, 'hex');
}

export interface SitePseudonymLogger {
  warn(details: object, message: string): void;
}

/**
 * The branch's pseudonym function. A store that cannot give or keep the secret (read-only with none saved yet, or
 * damaged) must not stop the door: this run then uses a secret of its own, and its pseudonyms are not the ones
 * staff will see after the next start with a writable store. Said in the log; no card data in it.
 */
export function sitePseudonym(settings: Pick<SettingsStore, 'get' | 'set'>, logger: SitePseudonymLogger): (cardHash: Buffer) => string {
  let secret: Buffer;
  try {
    secret = readSiteSecret(settings) ?? createSiteSecret(settings);
  } catch (error) {
    logger.warn({ err: { message: (error as Error).message } }, "the branch's pseudonym secret could not be read or saved; this run's pseudonyms are its own");
    secret = randomBytes(PSEUDONYM_SECRET_BYTES);
  }
  return createPseudonymizer(secret);
}

function createSiteSecret(settings: Pick<SettingsStore, 'set'>): Buffer {
  const secret = randomBytes(PSEUDONYM_SECRET_BYTES);
  settings.set(SITE_SECRET_SETTING, secret.toString('hex'));
  return secret;
}
