/**
 * e2e: a client whose request body stalls is answered 408 REQUEST_TIMEOUT in JSON and its
 * connection closed once --body-timeout-ms has passed, instead of holding the socket for ever.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { stalledBody } from '../support/slow-client.ts';
import { startTestServer } from './helpers.ts';

const BODY_TIMEOUT_MS = 500;

describe('slow clients', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer({ bodyTimeoutMs: BODY_TIMEOUT_MS });
  });
  afterAll(() => server.shutdown());

  it('a stalled body (Content-Length 100, 12 bytes sent) gets 408 REQUEST_TIMEOUT in JSON and the connection closed', async () => {
    const { hostname, port } = new URL(server.url);
    const res = await stalledBody(hostname, Number(port));
    const [head, body] = res.text.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 408 /);
    expect(head.toLowerCase()).toContain('connection: close');
    expect(JSON.parse(body)).toEqual({ error: { code: 'REQUEST_TIMEOUT', message: expect.any(String) } });
    // Not before the bound; well before the test's own timeout (the bug held sockets for minutes).
    expect(res.closedAfterMs).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 50);
    expect(res.closedAfterMs).toBeLessThan(BODY_TIMEOUT_MS + 5000);
  });

  it('a body that arrives within the bound is served normally', async () => {
    const res = await fetch(`${server.url}/v1/translate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'Bonjour', source: 'fr', target: 'de', options: { maxNewTokens: 4 } }),
    });
    expect(res.status).toBe(200);
  });
});
