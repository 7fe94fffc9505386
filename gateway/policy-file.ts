// A policy file from disk, read bounded (kit/read-bounded.ts) and parsed as the policy schema.
import { readFileBytes } from '../kit/read-bounded.js';
import { loadPolicyText, MAX_POLICY_BYTES, type PolicyParse } from '../policies/index.js';

/**
 * A policy file → the policy, or every problem with it (errors name the file). At most MAX_POLICY_BYTES, strict
 * UTF-8, YAML without alias bombs; does not check the site (the caller knows which one it is).
 */
export function readPolicyFile(path: string): PolicyParse {
  const read = readFileBytes(path, { what: path, maxBytes: MAX_POLICY_BYTES });
  if (!read.ok) return { ok: false, errors: [read.error] };
  return loadPolicyText(read.bytes, path);
}
