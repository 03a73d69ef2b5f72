/**
 * e2e: what Node's HTTP parser rejects before any route runs (bad request line, oversized
 * headers) is answered in the same `{"error":{"code",...}}` shape as the rest of /v1.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer } from './helpers.ts';

/** Writes raw bytes and reads until the server closes the connection. */
function rawRequest(url: string, bytes: string): Promise<{ status: number; headers: string; body: unknown }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.end(bytes));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // The server closes as soon as it has answered: a reset while writing the rest is expected.
    socket.on('error', () => {});
    socket.once('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const head = text.slice(0, split);
      try {
        resolve({ status: Number(head.split(' ')[1]), headers: head.toLowerCase(), body: JSON.parse(text.slice(split + 4)) });
      } catch (err) {
        reject(new Error(`not a JSON response: ${JSON.stringify(text)}`, { cause: err }));
      }
    });
  });
}

describe('low-level HTTP errors carry the coded error shape', () => {
  let server: RunningServer;
  // Not waiting for the engine: the parser answers these whatever is loading.
  beforeAll(async () => {
    server = await startTestServer({}, { waitReady: false });
  });
  afterAll(() => server.shutdown());

  it('a malformed request line is a 400 BAD_REQUEST_LINE in JSON', async () => {
    const res = await rawRequest(server.url, 'THIS IS NOT HTTP\r\n\r\n');
    expect(res.status).toBe(400);
    expect(res.headers).toContain('content-type: application/json');
    expect(res.body).toEqual({ error: { code: 'BAD_REQUEST_LINE', message: expect.any(String) } });
  });

  it('headers larger than the parser accepts are a 431 HEADERS_TOO_LARGE in JSON', async () => {
    const res = await rawRequest(server.url, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
    expect(res.status).toBe(431);
    expect(res.body).toEqual({ error: { code: 'HEADERS_TOO_LARGE', message: expect.any(String) } });
  });
});
