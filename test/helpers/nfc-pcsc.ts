// The PC/SC system tests need nfc-pcsc, an optional dependency with a native part. npm skips it, with no more than
// a warning, when libpcsclite-dev is missing at `npm install` time, and `npm rebuild` does not bring a skipped one
// back. Without this check the tests would fail later with something unrelated (a reader that never comes online).
import { createRequire } from 'node:module';
import { loadNfcPcsc, type NfcPcscModule } from '../../firmware-bridge/readers/pcsc.js';

export const NFC_PCSC_MISSING = 'nfc-pcsc is not installed: install libpcsclite-dev, then run npm install';

/** nfc-pcsc loaded, or an error that names it and says how to install it. */
export async function requireNfcPcsc(): Promise<NfcPcscModule> {
  try {
    createRequire(import.meta.url).resolve('nfc-pcsc');
  } catch {
    throw new Error(
      `${NFC_PCSC_MISSING} (npm skips this optional dependency when libpcsclite-dev is missing, and npm rebuild does ` +
        'not install a skipped one; sudo bash scripts/install-test-deps.sh does both steps)',
    );
  }
  // Installed but not loadable (a native part built against another libpcsclite): loadNfcPcsc's error says why.
  return loadNfcPcsc();
}
