// A dashboard left open: its live stream never ends by itself, so central's stop must not wait for it (or systemd's
// SIGKILL ends it), and the stream must end when the session or token that opened it does.
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
    const headers = await tokenHeaders(auth, 'viewer');
    const streaming = await new Promise<{ status: number | undefined; ended: Promise<void> }>((resolve, reject) => {
      const request = get({ host: '127.0.0.1', port, path: '/api/live', headers }, (response) => {
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

describe('a dashboard left open', () => {
  it('has its live stream ended when the token or session that opened it ends', async () => {
    const { app, auth } = await centralApp();
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const { token, info } = await auth.tokens.create({ name: 'wallboard', role: 'viewer', expiresDays: 1 }, 'test');
    const stream = await new Promise<{ status: number | undefined; text: Promise<string> }>((resolve, reject) => {
      const request = get({ host: '127.0.0.1', port, path: '/api/live', headers: { authorization: `Bearer ${token}` } }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => void (text += chunk));
        resolve({ status: response.statusCode, text: new Promise((done) => response.on('close', () => done(text))) });
      });
      request.on('error', reject);
    });
    expect(stream.status).toBe(200);
    await auth.tokens.revoke(info.id, 'test');
    // The stream says why and ends (within a few seconds), rather than feeding a revoked token for ever.
    expect(await stream.text).toMatch(/event: signed-out\ndata: {"message":"the session has ended: sign in again"}\n\n$/);
    await app.close();
  });
});
