// Central's copy of the deployment key: card numbers in the LMS export are hashed with it before anything is
// stored, so that the hashes match the ones each gateway makes from a tap. Environment first, then the key file.
import { DEPLOYMENT_KEY_MIN_BYTES, decodeDeploymentKey } from '../../policies/cards.js';
import { MAX_KEY_FILE_BYTES } from '../../policies/input-text.js';
import { readFileBytes } from '../../kit/read-bounded.js';

export class DeploymentKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeploymentKeyError';
  }
}

/** The key, or null when none is configured (central then runs without member lists). Throws when one is unusable. */
export function loadCentralKey(config: { deploymentKeyFile?: string | undefined }, env: NodeJS.ProcessEnv): Buffer | null {
  const fromEnv = env.OAG_DEPLOYMENT_KEY;
  let text: string;
  let source: string;
  if (fromEnv !== undefined && fromEnv !== '') {
    text = fromEnv;
    source = 'OAG_DEPLOYMENT_KEY';
  } else if (config.deploymentKeyFile !== undefined) {
    source = config.deploymentKeyFile;
    // Bounded: a key file path that is a FIFO or /dev/zero must fail, not hang the start.
    const read = readFileBytes(config.deploymentKeyFile, { what: `deploymentKeyFile (${config.deploymentKeyFile})`, maxBytes: MAX_KEY_FILE_BYTES });
    if (!read.ok) throw new DeploymentKeyError(read.error);
    text = Buffer.from(read.bytes).toString('utf8');
  } else {
    return null;
  }
  const key = decodeDeploymentKey(text);
  if (key === undefined || key.length < DEPLOYMENT_KEY_MIN_BYTES) {
    throw new DeploymentKeyError(`${source}: must be at least ${DEPLOYMENT_KEY_MIN_BYTES} bytes, written as hex or base64`);
  }
  return key;
}
