import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { FAST, SENTENCES } from '../http/helpers.ts';
import { postJson, startTestServer } from './helpers.ts';

let server: RunningServer;
beforeAll(async () => {
  // As `serve` runs by default: every lingua model loaded at start-up.
  server = await startTestServer({ apiKeys: ['e2e-key-0123456789abcdef'], detectPreload: 'on' });
});
afterAll(async () => {
  await server.shutdown('test done');
});

const auth = { authorization: 'Bearer e2e-key-0123456789abcdef', 'content-type': 'application/json' };

describe('every endpoint over a real port', () => {
  it('health, ready, metrics and docs answer without a key', async () => {
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    const ready = await fetch(`${server.url}/ready`);
    expect(ready.status).toBe(200);
    expect((await ready.json()).model.demo).toBe(true);
    expect(await (await fetch(`${server.url}/metrics`)).text()).toContain('xalma_queue_depth');
    expect((await fetch(`${server.url}/docs/json`)).status).toBe(200);
  });

  it('translate, detect and languages need the key and then answer', async () => {
    expect((await postJson(`${server.url}/v1/translate`, { text: 'hallo', target: 'en' })).status).toBe(401);
    const t = await postJson(`${server.url}/v1/translate`, { text: SENTENCES[3].text, target: 'de', options: FAST }, { headers: auth });
    expect(t.status).toBe(200);
    expect(t.body.translations[0]).toMatchObject({ source: { language: 'fr', detected: true }, group: 4, pivot: { language: 'en', group: 1 } });
    const d = await postJson(`${server.url}/v1/detect`, { text: [SENTENCES[2].text] }, { headers: auth });
    expect(d.body.detections[0].language).toBe('ru');
    const snippet = await postJson(`${server.url}/v1/detect`, { text: ['Kerajaan Malaysia berkata'] }, { headers: auth });
    expect(snippet.body.detections[0].language).toBe('ms');
    const l = await fetch(`${server.url}/v1/languages`, { headers: auth });
    expect((await l.json()).groups).toHaveLength(8);
  });

  it('bad JSON over the wire is a coded 400', async () => {
    const res = await fetch(`${server.url}/v1/translate`, { method: 'POST', headers: auth, body: '{"text":' });
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe('BAD_JSON');
  });
});
