// Central stops while a dashboard is open: its live stream never ends by itself, and a stop that waited for it
// would end in systemd's SIGKILL.
import { get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { tokenHeaders } from '../../helpers/central-auth.js';
import { centralApp } from './helpers.js';

describe('central with a dashboard open', () => {
  it('closes its HTTP server without waiting for the browser to leave', async () => {
    const { app, auth } = await centralApp();
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const streaming = await new Promise<{ status: number | undefined; ended: Promise<void> }>((resolve, reject) => {
      const request = get({ host: '127.0.0.1', port, path: '/api/live', headers: tokenHeaders(auth, 'viewer') }, (response) => {
        const ended = new Promise<void>((done) => {
          response.on('close', () => done());
          response.resume();
        });
        resolve({ status: response.statusCode, ended });
      });
      request.on('error', reject);
    });
    expect(streaming.status).toBe(200);
    await app.close();
    // The browser's stream was cut by the stop, not left hanging.
    await streaming.ended;
  });
});
