/**
 * POST /v1/translate with "stream": true (src/http/sse.ts) on a real server, read with fetch as
 * a browser's EventSource-style client would: text arrives while the row still runs, the deltas
 * add up to the final text, the final event equals the JSON response, and a client that goes
 * away frees its row.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { postJson, startTestServer, until } from './helpers.ts';

let server: RunningServer;
beforeAll(async () => {
  server = await startTestServer({ maxNewTokensLimit: 1000, cacheBytes: 0 });
});
afterAll(async () => {
  await server.shutdown('test done');
});

interface SseEvent {
  event: string;
  data: any;
}

/** Reads server-sent events from a fetch response; `onEvent` returning false stops reading. */
async function readEvents(res: Response, onEvent: (e: SseEvent) => boolean | void = () => {}): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      const data = JSON.parse(/^data: (.*)$/m.exec(block)![1]);
      events.push({ event, data });
      if (onEvent({ event, data }) === false) return events;
    }
  }
  return events;
}

const post = (body: unknown, signal?: AbortSignal) =>
  fetch(`${server.url}/v1/translate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });

describe('streaming translate (server-sent events)', () => {
  it('deltas arrive while the rows run, add up to the final text, and the done event equals the JSON response', async () => {
    const request = { text: ['Guten Morgen. Wie geht es dir heute?', 'Danke, gut.'], source: 'de', target: 'en', options: { maxNewTokens: 24, ignoreEos: true } };
    const res = await post({ ...request, stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    let inFlightAtFirstDelta = -1;
    const events = await readEvents(res, (e) => {
      if (e.event === 'delta' && inFlightAtFirstDelta < 0) inFlightAtFirstDelta = server.app.xalma.scheduler.inFlight;
    });
    // The first text came while rows were still generating, not after the whole answer.
    expect(inFlightAtFirstDelta).toBeGreaterThan(0);
    const done = events.at(-1)!;
    expect(done.event).toBe('done');
    expect(events.filter((e) => e.event === 'delta').length).toBeGreaterThan(2);
    const texts = request.text.map((_, i) =>
      events
        .filter((e) => e.event === 'delta' && e.data.index === i)
        .map((e) => e.data.text)
        .join(''),
    );
    expect(texts).toEqual(done.data.translations.map((t: { text: string }) => t.text));
    // Greedy decoding: the same request without streaming answers the same.
    const plain = await postJson(`${server.url}/v1/translate`, request);
    expect(done.data).toEqual(plain.body);
  });

  it('a client that disconnects mid-stream frees its row at the next step', async () => {
    const budget = 900;
    const { scheduler, engine } = server.app.xalma;
    const tokensBefore = engine.stats().outputTokens;
    const controller = new AbortController();
    const res = await post({ text: 'Ein langer Satz.', source: 'de', target: 'en', stream: true, options: { maxNewTokens: budget, ignoreEos: true } }, controller.signal);
    await readEvents(res, (e) => e.event !== 'delta').catch(() => {});
    controller.abort();
    await until(() => scheduler.inFlight === 0, 20_000, 'the row stopped');
    expect(engine.stats().outputTokens - tokensBefore).toBeLessThan(budget);
  });

  it('an error before the first delta is the usual JSON error with its status', async () => {
    const res = await post({ text: 'Hallo', source: 'xx', target: 'en', stream: true });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect((await res.json()).error.code).toBe('LANGUAGE_UNSUPPORTED');
  });

  it('a text that needs no model (source = target) streams its text and the done event', async () => {
    const res = await post({ text: 'Hallo Welt', source: 'de', target: 'de', stream: true });
    const events = await readEvents(res);
    expect(events.map((e) => e.event)).toEqual(['delta', 'done']);
    expect(events[0].data).toEqual({ index: 0, text: 'Hallo Welt' });
    expect(events[1].data.translations[0].finishReason).toBe('identity');
  });
});
