// PC/SC card readers (ACR122U, ACR1252U, any CCID reader) through pcscd and nfc-pcsc.
// One object serves every reader configured with `driver: pcsc`; each PC/SC reader that appears is given
// the configured id whose namePattern matches its name. pcscd can die or restart under us, and the
// library does not recover from that by itself, so the context is rebuilt with a bounded backoff.
import { EventEmitter } from 'node:events';
import { errorField, silentLogger, type HardwareLogger } from '../logger.js';
import type { CardReader, CardReaderEvents, ReaderRole } from '../types.js';
import { probePcscd } from './pcscd-probe.js';
import { readerMatcher, type ReaderMatcher } from './reader-match.js';
import { normaliseUid } from './uid.js';

/** One PC/SC reader (slot) as nfc-pcsc gives it. */
export interface PcscDevice extends EventEmitter {
  readonly name: string;
  autoProcessing: boolean;
  readonly reader: { close(): void };
  connect(mode?: string): Promise<unknown>;
  transmit(data: Buffer, responseMaxLength: number): Promise<Buffer>;
}

export interface PcscContext extends EventEmitter {
  close(): void;
}

export interface NfcPcscModule {
  NFC: new () => PcscContext;
}

export class PcscUnavailableError extends Error {
  constructor(cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      `PC/SC reader unavailable: nfc-pcsc could not be loaded (install libpcsclite-dev and pcscd, then run npm install again: npm skips nfc-pcsc when libpcsclite-dev is missing, and npm rebuild does not bring it back): ${reason}`,
      { cause },
    );
    this.name = 'PcscUnavailableError';
  }
}

/** Load nfc-pcsc (an optional dependency with a native part); throws PcscUnavailableError saying how to fix it. */
export async function loadNfcPcsc(): Promise<NfcPcscModule> {
  try {
    const mod = (await import('nfc-pcsc')) as Partial<NfcPcscModule> & { default?: Partial<NfcPcscModule> };
    const NFC = mod.NFC ?? mod.default?.NFC;
    if (NFC === undefined) throw new Error('the module has no NFC export');
    return { NFC: NFC as unknown as NfcPcscModule['NFC'] };
  } catch (error) {
    throw new PcscUnavailableError(error);
  }
}

export interface PcscReaderEntry {
  id: string;
  role: ReaderRole;
  namePattern?: string | undefined;
}

export interface PcscCardReaderOptions {
  entries: readonly PcscReaderEntry[];
  /** The loaded module, or why it could not be loaded: then every entry reports offline with that reason. */
  nfc: NfcPcscModule | PcscUnavailableError;
  logger?: HardwareLogger;
  /** Whether pcscd answers; default: connect to its socket. */
  probeService?: () => Promise<boolean>;
  /** Delay before rebuilding the PC/SC context: doubles from initialMs up to maxMs. */
  backoff?: { initialMs: number; maxMs: number };
  /** How long after a context starts a configured reader may take to appear before it is reported offline. */
  appearGraceMs?: number;
}

/** PC/SC GET DATA, UID: answered by the reader itself for any ISO 14443 card, phones and DESFire included. */
const GET_UID = Buffer.from([0xff, 0xca, 0x00, 0x00, 0x00]);
const SERVICE_DOWN = 'PC/SC service (pcscd) is not running';

interface EntryState {
  entry: PcscReaderEntry;
  present: Set<string>;
  reported: { online: boolean; detail: string | undefined } | undefined;
}

export class PcscCardReader extends EventEmitter<CardReaderEvents> implements CardReader {
  readonly kind = 'pcsc' as const;
  private readonly logger: HardwareLogger;
  private readonly states = new Map<string, EntryState>();
  private readonly match: ReaderMatcher<PcscReaderEntry>;
  private readonly probe: () => Promise<boolean>;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly appearGraceMs: number;
  private context: PcscContext | undefined;
  private devices = new Map<string, PcscDevice>();
  /** Bumped whenever a context is torn down, so late events from an old one are ignored. */
  private generation = 0;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly ignored = new Set<string>();

  constructor(private readonly options: PcscCardReaderOptions) {
    super();
    this.logger = options.logger ?? silentLogger;
    this.match = readerMatcher(options.entries);
    this.probe = options.probeService ?? (() => probePcscd());
    this.backoff = options.backoff ?? { initialMs: 250, maxMs: 5000 };
    this.appearGraceMs = options.appearGraceMs ?? 1500;
    for (const entry of options.entries) this.states.set(entry.id, { entry, present: new Set(), reported: undefined });
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    if (this.options.nfc instanceof Error) {
      // createHardware has logged the reason; the status carries it to the gateway's reader-offline alarm.
      for (const state of this.states.values()) this.report(state, false, this.options.nfc.message);
      return;
    }
    await this.connect();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.teardown();
  }

  private async connect(): Promise<void> {
    if (!this.running || this.options.nfc instanceof Error) return;
    const generation = this.generation;
    if (!(await this.probe())) {
      if (this.running && generation === this.generation) this.serviceDown(SERVICE_DOWN);
      return;
    }
    if (!this.running || generation !== this.generation) return;
    let context: PcscContext;
    try {
      context = new this.options.nfc.NFC();
    } catch (error) {
      this.serviceDown(`PC/SC context could not be created: ${errorField(error).message}`);
      return;
    }
    this.context = context;
    context.on('reader', (device: PcscDevice) => this.onDevice(generation, device));
    context.on('error', (error: unknown) => {
      if (generation !== this.generation) return;
      // pcsclite's monitor thread has stopped whatever the error (SCARD_E_NO_SERVICE 0x8010001D when pcscd is
      // gone, 0x80100013 when it was killed mid-call): only a new context sees readers again.
      this.logger.warn({ err: errorField(error) }, 'PC/SC context failed; rebuilding it');
      this.serviceDown(`PC/SC service stopped: ${errorField(error).message}`);
    });
    this.graceTimer = setTimeout(() => {
      if (generation !== this.generation) return;
      for (const state of this.states.values()) {
        if (state.present.size === 0) this.report(state, false, 'no matching PC/SC reader connected');
      }
    }, this.appearGraceMs);
  }

  private serviceDown(detail: string): void {
    this.teardown();
    for (const state of this.states.values()) {
      state.present.clear();
      this.report(state, false, detail);
    }
    if (!this.running) return;
    const delay = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** Math.min(this.failures, 20));
    this.failures += 1;
    if (this.failures === 1 || this.failures % 20 === 0) this.logger.warn({ detail, retryInMs: delay, attempts: this.failures }, 'PC/SC readers offline');
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, delay);
  }

  private teardown(): void {
    this.generation += 1;
    clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    for (const device of this.devices.values()) {
      try {
        device.reader.close();
      } catch {
        // already gone with the service
      }
    }
    this.devices.clear();
    const context = this.context;
    this.context = undefined;
    try {
      context?.close();
    } catch {
      // the monitor thread has already stopped
    }
  }

  private onDevice(generation: number, device: PcscDevice): void {
    if (generation !== this.generation) return;
    // The library reads UIDs its own way only for some cards; asking the reader ourselves works for all.
    device.autoProcessing = false;
    // An 'error' with no listener would throw: every device gets one, ignored ones included.
    device.on('error', (error: unknown) => {
      if (generation === this.generation) this.logger.warn({ reader: device.name, err: errorField(error) }, 'PC/SC reader error');
    });
    const entry = this.match(device.name);
    if (entry === undefined) {
      if (!this.ignored.has(device.name)) this.logger.info({ reader: device.name }, 'PC/SC reader ignored: it matches no configured reader');
      this.ignored.add(device.name);
      return;
    }
    const state = this.states.get(entry.id);
    if (state === undefined) return;
    this.devices.set(device.name, device);
    this.failures = 0;
    this.reportCardFailures(device, entry);
    device.on('card', (card: { atr?: Buffer }) => {
      if (generation === this.generation) void this.readCard(device, entry, card);
    });
    device.on('end', () => {
      // Join the reader's finished monitor thread (a no-op if pcsclite closed it on unplug). Deferred: 'end' is
      // emitted while pcsclite holds that reader's mutex, which close() takes too.
      setImmediate(() => {
        try {
          device.reader.close();
        } catch {
          // already closed
        }
      });
      if (generation !== this.generation) return;
      this.devices.delete(device.name);
      state.present.delete(device.name);
      this.logger.warn({ reader: device.name, readerId: entry.id }, 'PC/SC reader removed');
      if (state.present.size === 0) this.report(state, false, `reader removed: ${device.name}`, device.name);
    });
    state.present.add(device.name);
    this.logger.info({ reader: device.name, readerId: entry.id, role: entry.role }, 'PC/SC reader connected');
    this.report(state, true, undefined, device.name);
  }

  /**
   * nfc-pcsc 0.8.1 reports a failed card connection with `this.emit(err)` (an event named by the error
   * object) that no listener can receive; wrap connect so that a card too quick or too far to connect
   * is still a read error.
   */
  private reportCardFailures(device: PcscDevice, entry: PcscReaderEntry): void {
    const connect = device.connect.bind(device);
    device.connect = async (mode?: string) => {
      try {
        return await connect(mode);
      } catch (error) {
        this.readError(entry, `card could not be connected: ${errorField(error).message}`);
        throw error;
      }
    };
  }

  private async readCard(device: PcscDevice, entry: PcscReaderEntry, _card: { atr?: Buffer }): Promise<void> {
    const seenAt = process.hrtime.bigint();
    let response: Buffer;
    try {
      response = await device.transmit(GET_UID, 40);
    } catch (error) {
      this.readError(entry, `card did not answer the UID request: ${errorField(error).message}`);
      return;
    }
    if (response.length < 2) {
      this.readError(entry, `card gave no status to the UID request (${response.length}-byte answer)`);
      return;
    }
    const status = response.readUInt16BE(response.length - 2);
    if (status !== 0x9000) {
      this.readError(entry, `card refused the UID request (status ${status.toString(16).toUpperCase().padStart(4, '0')})`);
      return;
    }
    if (response.length === 2) {
      this.readError(entry, 'card gave an empty UID');
      return;
    }
    let uid: string;
    try {
      uid = normaliseUid(response.subarray(0, -2));
    } catch (error) {
      this.readError(entry, errorField(error).message);
      return;
    }
    this.emit('tap', { uid, readerId: entry.id, role: entry.role, seenAt, readerName: device.name });
  }

  private readError(entry: PcscReaderEntry, message: string): void {
    this.emit('read-error', { readerId: entry.id, role: entry.role, message });
  }

  private report(state: EntryState, online: boolean, detail: string | undefined, readerName?: string): void {
    const last = state.reported;
    if (last !== undefined && last.online === online && last.detail === detail) return;
    state.reported = { online, detail };
    this.emit('status', { readerId: state.entry.id, role: state.entry.role, online, detail, readerName });
  }
}
