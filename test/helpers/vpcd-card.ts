// A real PC/SC stack for system tests: Debian's pcscd with the vsmartcard-vpcd driver, started by the test,
// and a contactless card played over vpcd's TCP protocol (connecting the socket inserts the card, closing
// it removes it). Framing: 2-byte big-endian length, then the payload; a 1-byte payload is a control
// message (0 off, 1 on, 2 reset, 4 ATR: reply with the ATR); a longer one is an APDU to answer.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, readdirSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { delimiter, join } from 'node:path';

export const VPCD_HOST = '127.0.0.1';
/** vpcd's first slot ("Virtual PCD 00 00"); the second slot ("… 00 01") listens on the next port. */
export const VPCD_PORT = 35963;
export const PCSCD_SOCKET = process.env.PCSCLITE_CSOCK_NAME ?? '/run/pcscd/pcscd.comm';
const VPCD_DRIVER = '/usr/lib/pcsc/drivers/serial/libifdvpcd.so';

/** An ATR of a MIFARE Classic 1K behind a PC/SC contactless reader (PC/SC part 3): nfc-pcsc calls it TAG_ISO_14443_3. */
export const MIFARE_ATR = Buffer.from('3B8F8001804F0CA000000306030001000000006A', 'hex');
const GET_UID = Buffer.from([0xff, 0xca, 0x00, 0x00, 0x00]);

export interface VpcdCardOptions {
  /** The UID the card returns to GET DATA (FF CA 00 00 00), as hex. */
  uid: string;
  /** 0 for the first reader slot, 1 for the second. */
  slot?: 0 | 1;
  /** Status word returned to GET UID; anything but 9000 makes an unreadable card. */
  uidStatus?: number;
  atr?: Buffer;
}

export class VpcdCard {
  private socket: Socket | undefined;
  private buffered = Buffer.alloc(0);
  /** Every APDU the reader sent to this card (hex), for assertions. */
  readonly apdus: string[] = [];

  constructor(private readonly options: VpcdCardOptions) {}

  get port(): number {
    return VPCD_PORT + (this.options.slot ?? 0);
  }

  /** Put the card on the reader: resolves once vpcd has accepted the connection. */
  insert(): Promise<void> {
    if (this.socket !== undefined) throw new Error('card already inserted');
    return new Promise((resolve, reject) => {
      const socket = createConnection({ host: VPCD_HOST, port: this.port });
      this.socket = socket;
      socket.setNoDelay(true);
      socket.once('connect', () => resolve());
      socket.once('error', (error) => {
        this.socket = undefined;
        reject(error);
      });
      socket.on('data', (chunk) => this.onData(socket, chunk));
    });
  }

  /** Take the card away: resolves once the socket is closed. */
  remove(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    this.buffered = Buffer.alloc(0);
    if (socket === undefined || socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      socket.once('close', () => resolve());
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
    });
  }

  private onData(socket: Socket, chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 2) {
      const length = this.buffered.readUInt16BE(0);
      if (this.buffered.length < 2 + length) return;
      const message = this.buffered.subarray(2, 2 + length);
      this.buffered = this.buffered.subarray(2 + length);
      const reply = this.answer(message);
      if (reply !== undefined) {
        const header = Buffer.alloc(2);
        header.writeUInt16BE(reply.length);
        socket.write(Buffer.concat([header, reply]));
      }
    }
  }

  private answer(message: Buffer): Buffer | undefined {
    if (message.length === 1) return message[0] === 4 ? (this.options.atr ?? MIFARE_ATR) : undefined;
    this.apdus.push(message.toString('hex').toUpperCase());
    if (message.equals(GET_UID)) {
      const status = this.options.uidStatus ?? 0x9000;
      const sw = Buffer.from([status >> 8, status & 0xff]);
      return status === 0x9000 ? Buffer.concat([Buffer.from(this.options.uid, 'hex'), sw]) : sw;
    }
    return Buffer.from([0x6d, 0x00]);
  }
}

const PACKAGES = 'pcscd vsmartcard-vpcd libpcsclite-dev';

function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The pcscd binary, or an error naming the Debian packages to install. */
export function requirePcscStack(): string {
  const pcscd = findBinary('pcscd');
  if (pcscd === undefined) throw new Error(`pcscd not found: install the Debian packages ${PACKAGES} (scripts/install-test-deps.sh)`);
  const vpcdConfigured = existsSync('/etc/reader.conf.d') && readdirSync('/etc/reader.conf.d').some((f) => readFileSync(join('/etc/reader.conf.d', f), 'utf8').includes('libifdvpcd'));
  if (!existsSync(VPCD_DRIVER) || !vpcdConfigured) {
    throw new Error(`the vpcd virtual reader driver is not installed (${VPCD_DRIVER}, /etc/reader.conf.d/vpcd): install the Debian packages ${PACKAGES}`);
  }
  return pcscd;
}

/** Whether something answers on pcscd's socket. */
export function pcscdAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ path: PCSCD_SOCKET });
    const done = (up: boolean): void => {
      socket.destroy();
      resolve(up);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Whether a TCP port is listening on this machine, read from /proc so that vpcd sees no connection (that would insert a card). */
function tcpListening(port: number): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[1]?.endsWith(`:${hexPort}`) && fields[3] === '0A') return true;
    }
  }
  return false;
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface Pcscd {
  readonly pid: number;
  /** pcscd's recent output, for failure messages. */
  output(): string;
  /** SIGTERM this pcscd (by its pid), SIGKILL after a grace time; resolves when it has exited. */
  stop(): Promise<void>;
}

/** Start `pcscd --foreground` and wait until its socket answers and vpcd listens. Refuses to run beside a pcscd it did not start. */
export async function startPcscd(pcscdPath = requirePcscStack()): Promise<Pcscd> {
  if (await pcscdAnswers()) {
    throw new Error(`a pcscd this test did not start is already running (${PCSCD_SOCKET} answers); stop it first (systemctl stop pcscd.socket pcscd)`);
  }
  const lines: string[] = [];
  const child: ChildProcess = spawn(pcscdPath, ['--foreground'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk: Buffer): void => {
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid;
  if (pid === undefined) throw new Error(`pcscd did not start: ${lines.join('\n')}`);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (!stopped) {
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
      }, 5000);
      await exited;
      clearTimeout(timer);
    }
    await exited;
  };
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`pcscd exited with ${child.exitCode}: ${lines.join('\n')}`);
      return (await pcscdAnswers()) && tcpListening(VPCD_PORT) && tcpListening(VPCD_PORT + 1);
    }, 10_000, 'pcscd and vpcd to listen');
  } catch (error) {
    await stop();
    throw error;
  }
  return { pid, output: () => lines.join('\n'), stop };
}
