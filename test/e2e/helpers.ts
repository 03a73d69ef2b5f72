/**
 * e2e: the real server (startServer: real detector, real engine on the demo model, mode all)
 * on a loopback port, driven by real HTTP clients (fetch / node:http).
 */
import type { Config } from '../../src/config.ts';
import type { LoadingPart } from '../../src/http/lifecycle.ts';
import { startServer, type RunningServer, type StartServerOptions } from '../../src/server.ts';
import { testConfig } from '../http/helpers.ts';

/**
 * Resolves once the server is ready (detector and engine loaded, engine warm); with
 * `waitReady: false`, as soon as it listens, while those still load.
 */
export async function startTestServer(
  overrides: Partial<Config> = {},
  opts: { waitReady?: boolean; beforeLoaded?: StartServerOptions['beforeLoaded'] } = {},
): Promise<RunningServer> {
  const server = await startServer(testConfig({ host: '127.0.0.1', port: 0, ...overrides }), { signals: false, beforeLoaded: opts.beforeLoaded });
  if (opts.waitReady !== false) await server.startup;
  return server;
}

export async function postJson(url: string, body: unknown, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...init });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` holds (or fails the test after `ms`). */
export async function until(check: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** A start-up held before `held` is reported loaded (startTestServer's beforeLoaded), until release(). */
export function holdAt(held: LoadingPart) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let reached!: () => void;
  const atHold = new Promise<void>((resolve) => (reached = resolve));
  const beforeLoaded = (part: LoadingPart) => {
    if (part !== held) return Promise.resolve();
    reached();
    return gate;
  };
  return { beforeLoaded, release, atHold };
}
