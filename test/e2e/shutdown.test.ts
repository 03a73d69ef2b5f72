import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { postJson, sleep } from './helpers.ts';

/** Starts the real server in its own process and resolves with its URL once ready. */
function spawnServer(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/e2e/serve-fixture.ts', ...args], {
    env: { ...process.env, XALMA_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const logs: Array<Record<string, unknown>> = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let listened!: (url: string) => void;
  const listening = new Promise<string>((resolve) => (listened = resolve));
  const ready = new Promise<string>((resolve, reject) => {
    let url = '';
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === 'listening') listened((url = String(entry.url)));
        if (entry.msg === 'ready') resolve(url);
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => reject(new Error(`server exited early with ${code}`)));
  });
  // A server killed before it is ready must not fail the test through this promise.
  ready.catch(() => {});
  return { child, listening, ready, exited, logs };
}

/** Polls /metrics until `n` requests are queued, running or finished. */
async function admitted(url: string, n: number): Promise<void> {
  const metric = (text: string, name: string) =>
    text.split('\n').filter((l) => l.startsWith(name)).reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  for (let i = 0; i < 1000; i++) {
    const text = await (await fetch(`${url}/metrics`)).text();
    const seen = metric(text, 'xalma_queue_depth') + metric(text, 'xalma_batch_in_flight_rows') + metric(text, 'xalma_scheduler_rows_total');
    if (seen >= n) return;
    await sleep(10);
  }
  throw new Error('requests were not admitted');
}

describe('graceful shutdown', () => {
  it('on SIGTERM under load it completes every accepted request, refuses new ones and exits 0', async () => {
    const server = spawnServer(['--port', '0', '--host', '127.0.0.1', '--max-batch-size', '4', '--max-new-tokens-limit', '64', '--default-max-new-tokens', '16', '--shutdown-timeout-ms', '60000', '--cache-bytes', '0']);
    const url = await server.ready;
    const accepted = Array.from({ length: 24 }, (_, i) =>
      postJson(`${url}/v1/translate`, { text: `Satz Nummer ${i} für die Prüfung.`, source: 'de', target: i % 2 ? 'en' : 'fr', options: { maxNewTokens: 64, ignoreEos: true } }),
    );
    // Wait until every request reached the scheduler (queued, running or done), however
    // loaded the machine is; 24 requests (36 rows with the pivots) at 4 rows per batch and 64
    // tokens each keep the engine busy well past this point.
    await admitted(url, 24);
    server.child.kill('SIGTERM');
    const results = await Promise.all(accepted);
    expect(results.map((r) => r.status)).toEqual(Array(24).fill(200));
    // A newcomer after SIGTERM is refused: connection refused, or a coded 503 while draining.
    const late = await postJson(`${url}/v1/translate`, { text: 'zu spät', source: 'de', target: 'en' }).then(
      (r) => String(r.status),
      () => 'refused',
    );
    expect(['refused', '503']).toContain(late);
    expect(await server.exited).toBe(0);
    // SIGTERM arrived under load: work was still queued or running when draining began.
    const draining = server.logs.find((l) => l.msg === 'draining');
    expect(Number(draining?.queued) + Number(draining?.inFlight)).toBeGreaterThan(0);
    expect(server.logs.some((l) => l.msg === 'stopped' && l.outcome === 'drained')).toBe(true);
  });

  it('on SIGTERM while the detector and the engine still load it stops and exits 0', async () => {
    // Held before the detector is reported loaded, for ever: only the signal ends start-up.
    const server = spawnServer(['--port', '0', '--host', '127.0.0.1', '--detect-preload', 'off'], { XALMA_TEST_HOLD_LOADING: 'detector' });
    const url = await server.listening;
    const ready = await fetch(`${url}/ready`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { error: { code: string } }).error.code).toBe('NOT_READY');
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.logs.some((l) => l.msg === 'draining' && Array.isArray(l.loading) && l.loading.includes('detector'))).toBe(true);
    expect(server.logs.some((l) => l.msg === 'stopped')).toBe(true);
  });
});
