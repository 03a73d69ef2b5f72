/**
 * HTTP tests run the real engine on the embedded demo model (mode all, CPU), created once per
 * test file and warmed, and build a fresh app per scenario. The demo model does not translate:
 * tests assert structure and behaviour, never the text.
 */
import type { LoadingPart } from '../../src/http/lifecycle.ts';
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import { defaultConfig, type Config } from '../../src/config.ts';
import { createEngine } from '../../src/engine/engine.ts';
import type { Engine } from '../../src/engine/types.ts';
import { createDetector } from '../../src/languages/index.ts';
import { buildApp } from '../../src/server.ts';

export const MODEL_DIR = 'models/xalma-tiny-demo';

/** Small decoding budgets keep the suite fast on 2 cores. */
export const FAST = { maxNewTokens: 8 };

let shared: Promise<{ engine: Engine; detector: Awaited<ReturnType<typeof createDetector>> }> | null = null;

export function sharedRuntime() {
  shared ??= (async () => {
    // Sequential, as in startServer: the detector's wasm start-up timer must not compete with the engine load.
    const detector = await createDetector();
    const engine = await createEngine({ modelDir: MODEL_DIR, mode: 'all', provider: 'cpu' });
    await engine.warmup();
    return { engine, detector };
  })();
  return shared;
}

export function testConfig(overrides: Partial<Config> = {}): Config {
  // detectPreload off: lingua loads what a test uses instead of every model (about 9 s per server).
  return defaultConfig({ logLevel: 'silent', defaultMaxNewTokens: 8, maxNewTokensLimit: 64, detectPreload: 'off', ...overrides });
}

export async function makeApp(overrides: Partial<Config> = {}, opts: { warm?: boolean; loading?: LoadingPart[] } = {}): Promise<FastifyInstance> {
  const { engine, detector } = await sharedRuntime();
  const app = await buildApp({ config: testConfig(overrides), engine, detector, warm: opts.warm ?? true, loading: opts.loading });
  await app.ready();
  return app;
}

export async function closeShared(): Promise<void> {
  if (!shared) return;
  const { engine } = await shared;
  shared = null;
  await engine.close();
}

/** Sample sentences in languages of every group (real text, so detection has something to go on). */
export const SENTENCES: Array<{ lang: string; text: string }> = [
  { lang: 'de', text: 'Der schnelle braune Fuchs springt über den faulen Hund.' },
  { lang: 'es', text: 'El rápido zorro marrón salta sobre el perro perezoso.' },
  { lang: 'ru', text: 'Быстрая коричневая лиса прыгает через ленивую собаку.' },
  { lang: 'fr', text: 'Le renard brun rapide saute par-dessus le chien paresseux.' },
  { lang: 'pl', text: 'Szybki brązowy lis przeskakuje nad leniwym psem.' },
  { lang: 'ja', text: '素早い茶色の狐がのろまな犬を飛び越える。' },
  { lang: 'hi', text: 'तेज़ भूरी लोमड़ी आलसी कुत्ते के ऊपर कूदती है।' },
  { lang: 'tr', text: 'Hızlı kahverengi tilki tembel köpeğin üzerinden atlar.' },
];

export function post(app: FastifyInstance, url: string, body: unknown, headers: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url, payload: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
}

/** What /v1 answers for the text, pair and default options (the compatible APIs share its path and cache). */
export async function v1Text(app: FastifyInstance, text: string, source: string, target: string): Promise<string> {
  const res = await post(app, '/v1/translate', { text, source, target });
  expect(res.statusCode).toBe(200);
  return res.json().translations[0].text;
}
