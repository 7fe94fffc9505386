// The local API and console: `GET /api/health`, the one route that needs no credentials, where the gateway listens.
// Its answer also says whether the gateway runs, which the GPIO checks need to read an output's level.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { GatewayConfig } from '../config.js';
import { fail, ok, type Finding } from './findings.js';
import type { GatewayPresence } from './gpio-checks.js';

export interface ConsoleCheck {
  findings: Finding[];
  gateway: GatewayPresence;
}

/** Where to reach the API from this machine: a wildcard address is reached on loopback. */
export function healthUrl(http: GatewayConfig['http']): string {
  const host = http.host === '0.0.0.0' || http.host === '' ? '127.0.0.1' : http.host === '::' ? '::1' : http.host;
  return `${http.tls === undefined ? 'http' : 'https'}://${host.includes(':') ? `[${host}]` : host}:${http.port}/api/health`;
}

export async function checkConsole(config: GatewayConfig, timeoutMs: number): Promise<ConsoleCheck> {
  if (!config.http.enabled) return { gateway: 'unknown', findings: [ok('console', 'console', 'the local API and console are off (http.enabled: false)')] };
  const url = healthUrl(config.http);
  const answer = await get(url, timeoutMs);
  if ('status' in answer && answer.status === 200) return { gateway: 'running', findings: [ok('console', 'console', `the gateway answers at ${url}`)] };
  const found = 'status' in answer ? `${url} answers ${answer.status}, not the gateway's health` : `nothing answers at ${url} (${answer.error})`;
  return {
    gateway: 'status' in answer ? 'unknown' : 'stopped',
    findings: [fail('console', 'console', found, 'start the gateway and see why it stopped: sudo systemctl status oag-gateway; sudo journalctl -u oag-gateway -n 50; another program on the port? sudo ss -ltnp')],
  };
}

function get(url: string, timeoutMs: number): Promise<{ status: number } | { error: string }> {
  return new Promise((resolve) => {
    // Only liveness is asked, no credential is sent: the gateway's own certificate is not checked here.
    const request = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, { method: 'GET', timeout: timeoutMs, rejectUnauthorized: false }, (response) => {
      response.resume();
      resolve({ status: response.statusCode ?? 0 });
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code === 'ECONNREFUSED' ? 'connection refused' : error.message }));
    request.end();
  });
}
