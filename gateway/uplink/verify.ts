// Central's public keys, as the branch holds them from install (`mqtt.centralKeys`), and the one check every message
// from central passes before the gateway acts on it (docs/central.md, *Signing*): commands (commands.ts), the
// retained policy (uplink.ts), member-list announcements and chunks (members/sync.ts, members/chunk-worker.ts).
// Two keys at once is a rollover: each is accepted until it is taken off the list.
import { readFileBytes } from '../../kit/read-bounded.js';
import { centralPublicKeyFromPem, type CentralPublicKey } from '../../policies/contract/signing.js';
import { MAX_KEY_FILE_BYTES } from '../../policies/input-text.js';

export type { CentralPublicKey } from '../../policies/contract/signing.js';

/** Reads every key file; throws one line naming the setting and the file when one is missing or not an Ed25519 key. */
export function loadCentralKeys(paths: readonly string[]): CentralPublicKey[] {
  if (paths.length === 0) throw new Error("mqtt.centralKeys: required: the public key of central's signing key (oag central signing-key --public FILE)");
  return paths.map((path, i) => {
    const what = `mqtt.centralKeys[${i}] (${path})`;
    // Bounded: a path that is a FIFO or /dev/zero must fail, not hang the start.
    const read = readFileBytes(path, { what, maxBytes: MAX_KEY_FILE_BYTES });
    if (!read.ok) throw new Error(read.error);
    const key = centralPublicKeyFromPem(read.bytes, what);
    if (!key.ok) throw new Error(key.error);
    return key.value;
  });
}
