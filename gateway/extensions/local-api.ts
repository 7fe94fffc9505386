// The local HTTP API and the staff console as an extension. A port already taken (another service, or the last
// gateway not yet gone) is a `local-api-failed` alarm and another try later, not a branch without a door. So is a
// console that would listen beyond loopback in plain HTTP: it stays off, and the alarm says why.
import type { Hardware } from '../../firmware-bridge/types.js';
import { httpExposureProblem } from '../config.js';
import type { GatewayConfig } from '../config.js';
import type { Gateway } from '../core/controller.js';
import { startLocalApi } from '../http/server.js';
import { readFileBytes } from '../../kit/read-bounded.js';
import type { ConsoleApiDeps, HealthReport, LocalApi, LocalApiDeps } from '../http/server.js';
import type { Extension, ExtensionContext } from './extension.js';

export class LocalApiExtension implements Extension {
  readonly name = 'local-api';
  private api: LocalApi | undefined;

  constructor(
    private readonly deps: {
      gateway: Gateway;
      hardware: Hardware;
      config: GatewayConfig['http'];
      console?: ConsoleApiDeps | undefined;
      health?: (() => HealthReport) | undefined;
      doorScreen?: LocalApiDeps['doorScreen'];
    },
  ) {}

  get current(): LocalApi | undefined {
    return this.api;
  }

  async start(context: ExtensionContext): Promise<void> {
    const { config } = this.deps;
    const exposure = httpExposureProblem(config);
    if (exposure !== undefined) throw new Error(`${exposure}; the local API and console stay off`);
    const https = config.tls === undefined ? undefined : { cert: readPem('http.tls.cert', config.tls.cert), key: readPem('http.tls.key', config.tls.key) };
    try {
      this.api = await startLocalApi({ ...this.deps, https, logger: context.logger });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new Error(`port ${config.port} on ${config.host} is in use (http.port)`, { cause: error });
      }
      if ((error as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL') {
        throw new Error(`${config.host} is not an address of this machine (http.host)`, { cause: error });
      }
      throw error;
    }
  }

  async stop(): Promise<void> {
    const api = this.api;
    this.api = undefined;
    await api?.close();
  }
}

function readPem(setting: string, path: string): Buffer {
  const read = readFileBytes(path, { what: `${setting} (${path})`, maxBytes: 1024 * 1024 });
  if (!read.ok) throw new Error(read.error);
  return Buffer.from(read.bytes);
}
