// A real Debian mosquitto for system tests: a free loopback port, TLS with a CA and certificates made here with
// openssl, a password file made with mosquitto_passwd, the ACL `oag central mqtt-acl` renders (each site reaches only
// `{prefix}/sites/<its username>/...`) and the contract's size limits. Stopped by pid; everything lives in a temp folder.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { MAX_BROKER_PACKET_BYTES, renderMosquittoAcl, type CENTRAL_USERNAME } from '../../policies/contract/index.js';

/** Fails with a message naming the Debian package when a binary is missing. */
export function requireBinary(binary: string, debianPackage: string): string {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/bin', '/usr/local/sbin']) {
    const path = join(dir, binary);
    if (existsSync(path)) return path;
  }
  throw new Error(`system package "${debianPackage}" is missing (no ${binary}): run scripts/install-test-deps.sh or apt-get install ${debianPackage}`);
}

/** Re-exported for the tests that took it from here. */
export { freePort };

async function waitForPort(port: number, timeoutMs: number, isAlive: () => boolean): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (!isAlive()) throw new Error('mosquitto exited during start');
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`mosquitto did not listen on ${port} within ${timeoutMs} ms`);
}

export interface TestCerts {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** A test CA, a server certificate for 127.0.0.1/localhost and a client certificate, all signed by that CA. */
export function makeCerts(dir: string): TestCerts {
  const openssl = requireBinary('openssl', 'openssl');
  const p = (f: string): string => join(dir, f);
  const run = (args: string[]): void => {
    execFileSync(openssl, args, { stdio: 'pipe' });
  };
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=oag-test-ca', '-keyout', p('ca.key'), '-out', p('ca.crt')]);
  const sign = (name: string, cn: string, ext: string): void => {
    run(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`)]);
    writeFileSync(p(`${name}.ext`), ext);
    run(['x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', p(`${name}.ext`), '-out', p(`${name}.crt`)]);
  };
  sign('server', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  sign('client', 'oag-test-client', 'extendedKeyUsage=clientAuth\n');
  return { ca: p('ca.crt'), serverCert: p('server.crt'), serverKey: p('server.key'), clientCert: p('client.crt'), clientKey: p('client.key') };
}

export interface MosquittoOptions {
  /** username → password; sites use their site id as username. */
  users: Record<string, string>;
  /** The username with access to every site: the ACL's CENTRAL_USERNAME, the only one it knows. */
  centralUser?: typeof CENTRAL_USERNAME;
  prefix?: string;
}

export interface RunningMosquitto {
  port: number;
  url: string;
  dir: string;
  certs: TestCerts;
  pid(): number;
  log(): string;
  /** kill -STOP: the broker hangs with its sockets open, like a frozen host. */
  pause(): void;
  resume(): void;
  /** kill (SIGTERM, so it saves its persistence) and wait for the pid to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Start again on the same port with the same files. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startMosquitto(options: MosquittoOptions): Promise<RunningMosquitto> {
  const mosquitto = requireBinary('mosquitto', 'mosquitto');
  const passwd = requireBinary('mosquitto_passwd', 'mosquitto');
  const dir = mkdtempSync(join(tmpdir(), 'oag-mosquitto-'));
  const certs = makeCerts(dir);
  const prefix = options.prefix ?? 'oa/v1';
  const passwordFile = join(dir, 'passwords');
  writeFileSync(passwordFile, '');
  for (const [user, password] of Object.entries(options.users)) {
    execFileSync(passwd, ['-b', passwordFile, user, password], { stdio: 'pipe' });
  }
  const aclFile = join(dir, 'acl');
  writeFileSync(aclFile, renderMosquittoAcl(prefix));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      // Stay the user who started it (a root test run would otherwise switch to "mosquitto" and lose the files).
      `user ${process.getuid?.() === 0 ? 'root' : (process.env.USER ?? 'root')}`,
      'per_listener_settings false',
      'allow_anonymous false',
      `password_file ${passwordFile}`,
      `acl_file ${aclFile}`,
      'persistence true',
      `persistence_location ${dir}/`,
      'autosave_interval 1',
      // central's persistent session may have to hold a long backlog while it is away
      'max_queued_messages 100000',
      // the contract's size limit (docs/central.md): an oversized packet disconnects its sender as its length is read;
      // not message_size_limit, which in 2.0.11 leaves an MQTT 5 sender waiting for its PUBACK until keepalive
      `max_packet_size ${MAX_BROKER_PACKET_BYTES}`,
      `log_dest file ${join(dir, 'mosquitto.log')}`,
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      'connection_messages true',
      `listener ${port} 127.0.0.1`,
      `cafile ${certs.ca}`,
      `certfile ${certs.serverCert}`,
      `keyfile ${certs.serverKey}`,
      'require_certificate true',
      'tls_version tlsv1.2',
      '',
    ].join('\n'),
  );

  let child: ChildProcess | null = null;
  let exited = true;
  const launch = async (): Promise<void> => {
    const c = spawn(mosquitto, ['-c', conf], { stdio: 'ignore' });
    child = c;
    exited = false;
    c.once('exit', () => {
      exited = true;
    });
    await waitForPort(port, 10_000, () => !exited);
  };
  const waitExit = async (): Promise<void> => {
    const end = Date.now() + 10_000;
    while (!exited && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    if (!exited) throw new Error('mosquitto did not exit');
  };
  await launch();

  const running: RunningMosquitto = {
    port,
    url: `mqtts://127.0.0.1:${port}`,
    dir,
    certs,
    pid: () => child?.pid ?? -1,
    log: () => (existsSync(join(dir, 'mosquitto.log')) ? readFileSync(join(dir, 'mosquitto.log'), 'utf8') : ''),
    pause: () => {
      if (child?.pid) process.kill(child.pid, 'SIGSTOP');
    },
    resume: () => {
      if (child?.pid) process.kill(child.pid, 'SIGCONT');
    },
    kill: async (signal = 'SIGTERM') => {
      if (!child?.pid || exited) return;
      process.kill(child.pid, 'SIGCONT');
      process.kill(child.pid, signal);
      await waitExit();
    },
    restart: async () => {
      await running.kill();
      await launch();
    },
    stop: async () => {
      await running.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return running;
}
