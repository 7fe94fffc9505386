// Whether pcscd is answering on its socket. Checked before every PC/SC context is built, because
// @pokusew/pcsclite's context constructor retries SCardEstablishContext in a busy loop on the main thread
// while the service is missing: it would freeze the whole gateway, door included.
import { createConnection } from 'node:net';

export function pcscdSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.PCSCLITE_CSOCK_NAME ?? '/run/pcscd/pcscd.comm';
}

export function probePcscd(path = pcscdSocketPath(), timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ path });
    const done = (up: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(up);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
