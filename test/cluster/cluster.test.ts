/**
 * Cluster: 3 replicas (demo model, deploy/compose.yaml's environment) + Redis + nginx running
 * deploy/nginx/xalma.conf, all on 127.0.0.1, one cluster for the whole file (start-up is the
 * slow part). In order: the shared cache across replicas, a stalled body through nginx, mixed
 * traffic with a replica killed (-9) and restarted and Redis killed and restarted, and SIGTERM
 * under load. Counts are printed; XALMA_CLUSTER_DURATION_S shortens the traffic run locally
 * (CI runs the full 120 s).
 */
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stalledBody } from '../support/slow-client.ts';
import { ensureDebianPackages, sleep, waitFor } from '../support/services.ts';
import { mixedRequests, runLoad } from './load.ts';
import { Cluster } from './topology.ts';

const unavailable = ensureDebianPackages({ nginx: 'nginx-light', 'redis-server': 'redis-server' });
if (unavailable) console.warn(`cluster tests skipped: ${unavailable}`);

const DURATION_S = Number(process.env.XALMA_CLUSTER_DURATION_S ?? 120);
const CONNECTIONS = 8;

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

/**
 * One request on its own connection (node:http, no agent): fetch's pool may queue requests
 * behind a busy keep-alive socket, and then "accepted by the server" would not be what the
 * client thinks it is.
 */
function postOwnConnection(url: string, body: unknown): Promise<{ status: number; body: any; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString('utf8')), retryAfter: res.headers['retry-after'] }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

/**
 * ok | retryable-503 | refused (never accepted: the client knows it was not delivered) |
 * reset-unread: a connection opened after the signal that the kernel completed in the instant
 * the listener closed; the server never read it (nginx retries it: proxy_next_upstream error) |
 * lost ...: anything else, a failure of the drain.
 */
async function drainOutcome(url: string, body: unknown, when: () => string, openedAfterSignal = false): Promise<string> {
  try {
    const res = await postOwnConnection(url, body);
    if (res.status === 200) return 'ok';
    if (res.status === 503 && res.body.error?.code === 'SHUTTING_DOWN' && res.retryAfter) return 'retryable-503';
    return `other ${res.status} ${res.body.error?.code}`;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED') return 'refused';
    if (code === 'ECONNRESET' && openedAfterSignal) return 'reset-unread';
    return `lost ${code ?? (err as Error).message} ${when()}`;
  }
}

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

describe.skipIf(unavailable)('cluster: nginx + 3 replicas + Redis', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xalma-cluster-'));
  const cluster = new Cluster({ replicas: 3, redis: true, dir });

  beforeAll(async () => {
    const t0 = Date.now();
    try {
      await cluster.start();
    } catch (err) {
      await cluster.stop();
      throw new Error(`cluster start failed; logs in ${dir}`, { cause: err });
    }
    console.log(`cluster up in ${Date.now() - t0} ms (logs in ${dir}): nginx ${cluster.url}, replicas ${cluster.replicas.map((r) => r.port).join(', ')}, redis ${cluster.redisPort}`);
  });
  afterAll(() => cluster.stop());

  it('a text translated through replica A is a shared-cache hit on replica B', async () => {
    const [a, b] = cluster.replicas;
    const body = { text: 'A sentence nobody translated before this test.', source: 'en', target: 'de', options: { maxNewTokens: 8 } };
    const redis = createClient({ url: cluster.redisUrl });
    await redis.connect();
    const keysBefore = await redis.dbSize();
    const first = await (await post(`${a.url}/v1/translate`, body)).json();
    expect(first.translations[0].cached).toBe(false);
    const hitsBefore = metric(await (await fetch(`${b.url}/metrics`)).text(), 'xalma_shared_cache_hits_total');
    // A stores after answering (fire and forget): wait until it has landed (no other traffic now).
    await waitFor(async () => (await redis.dbSize()) > keysBefore, 5000, 'the store from A');
    redis.destroy();
    // B's very first request for the text: answered from Redis, not translated again.
    const second = await (await post(`${b.url}/v1/translate`, body)).json();
    expect(second.translations[0]).toEqual({ ...first.translations[0], cached: true });
    expect(metric(await (await fetch(`${b.url}/metrics`)).text(), 'xalma_shared_cache_hits_total')).toBe(hitsBefore + 1);
  });

  it("a stalled body through nginx is closed by nginx's client_body_timeout (10 s) and never reaches a replica", async () => {
    const before = cluster.accessEntries().length;
    const res = await stalledBody('127.0.0.1', cluster.nginxPort);
    console.log(`stalled body through nginx: closed after ${res.closedAfterMs} ms, answer: ${JSON.stringify(res.text.split('\r\n')[0] ?? '')}`);
    expect(res.closedAfterMs).toBeGreaterThanOrEqual(9_000);
    expect(res.closedAfterMs).toBeLessThan(20_000);
    // nginx answers 408 or just closes; either way it logs 408 and no upstream was contacted.
    await waitFor(() => cluster.accessEntries().length > before, 5000, 'the access log line');
    const entry = cluster.accessEntries().slice(before).find((e) => e.status === 408);
    expect(entry).toBeDefined();
    expect(entry!.upstreams).toEqual([]);
  });

  it(`${DURATION_S} s of mixed traffic: kill -9 a replica and Redis mid-run; no failure the client did not see retried`, async () => {
    const victim = cluster.replicas[1];
    const logStart = cluster.accessEntries().length;
    const load = runLoad({ url: cluster.url, connections: CONNECTIONS, duration: DURATION_S, requests: mixedRequests(8), timeout: 30 });
    const t0 = Date.now();
    const at = (fraction: number) => sleep(Math.max(0, t0 + fraction * DURATION_S * 1000 - Date.now()));

    await at(0.25);
    const killedAt = Date.now();
    await victim.kill9();
    await victim.start();
    await victim.ready();
    const readyAt = Date.now();

    // Redis down for a fifth of the run, after the replica is back (start-up takes 10-35 s here).
    await at(0.55);
    await sleep(Math.max(0, readyAt + 2000 - Date.now()));
    cluster.redis!.signal('SIGKILL');
    await cluster.redis!.exited;
    const redisKilledAt = Date.now();
    await sleep(Math.min(0.2 * DURATION_S * 1000, Math.max(0, t0 + DURATION_S * 1000 - 3000 - Date.now())));
    await cluster.startRedis();
    const redisBackAt = Date.now();

    const result = await load.done;
    const entries = cluster.accessEntries().slice(logStart);
    // 499: autocannon closing its connections when the run ends, with requests still in flight.
    const closedByClient = entries.filter((e) => e.status === 499);
    const failures = entries.filter((e) => (e.status < 200 || e.status >= 300) && e.status !== 499);
    const retriedFromVictim = entries.filter((e) => e.upstreams.length >= 2 && e.upstreams[0] === victim.address);
    // Begun before the kill, ended after it: in flight on the victim when it died.
    const inFlightAtKill = retriedFromVictim.filter((e) => e.startMs <= killedAt && e.atMs >= killedAt);
    const backInRotation = entries.find((e) => e.atMs > readyAt - 1000 && e.atMs > killedAt && e.upstreams.at(-1) === victim.address && e.status === 200);
    const duringRedisOutage = entries.filter((e) => e.atMs >= redisKilledAt && e.atMs <= redisBackAt);
    const summary = {
      requests: result.requests.total,
      reqPerSec: result.requests.average,
      clientNon2xx: result.non2xx,
      clientErrors: result.errors,
      clientTimeouts: result.timeouts,
      statuses: Object.fromEntries(load.statuses),
      nginxLogged: entries.length,
      nginxFailures: failures.length,
      closedByClientAtEnd: closedByClient.length,
      retriedAfterVictimFailed: retriedFromVictim.length,
      // 502: the victim's connection failed (in flight when it died, or refused while it was down);
      // 503: NOT_READY while it loaded again. Each then answered by another replica.
      retriedByVictimStatus: retriedFromVictim.reduce<Record<string, number>>((m, e) => ((m[e.upstreamStatuses[0]] = (m[e.upstreamStatuses[0]] ?? 0) + 1), m), {}),
      retriedInFlightAtKill: inFlightAtKill.length,
      victimReadyAfterMs: readyAt - killedAt,
      victimBackInRotationAfterMs: backInRotation ? backInRotation.atMs - killedAt : null,
      requestsDuringRedisOutage: duringRedisOutage.length,
      non2xxDuringRedisOutage: duringRedisOutage.filter((e) => e.status >= 300).length,
    };
    console.log('mixed traffic:', JSON.stringify(summary));

    // The client saw every request answered, and nginx's log agrees with it.
    expect(result.errors + result.timeouts).toBe(0);
    expect(result.requests.total).toBeGreaterThan(DURATION_S);
    // Failures the client saw may only be requests that were on the killed replica (in flight when
    // it died and not retried, which nginx does only before an answer started): none expected here.
    for (const f of failures) expect(f.upstreams, JSON.stringify(f)).toContain(victim.address);
    expect(result.non2xx).toBe(failures.length);
    expect(closedByClient.length).toBeLessThanOrEqual(CONNECTIONS);
    const loadEnd = Math.max(...entries.map((e) => e.atMs));
    for (const e of closedByClient) expect(loadEnd - e.atMs, JSON.stringify(e)).toBeLessThan(2000);
    // The unanswered requests on the victim were sent to another replica and answered there.
    expect(retriedFromVictim.length).toBeGreaterThan(0);
    for (const e of retriedFromVictim) expect(e.status, JSON.stringify(e)).toBe(200);
    expect(backInRotation, 'the restarted replica served again').toBeDefined();
    // Redis down: translations continued, no 5xx.
    expect(duringRedisOutage.length).toBeGreaterThan(0);
    expect(summary.non2xxDuringRedisOutage).toBe(0);
    const errorsCounted = await Promise.all(cluster.replicas.map(async (r) => metric(await (await fetch(`${r.url}/metrics`)).text(), 'xalma_shared_cache_errors_total')));
    expect(errorsCounted.some((n) => n > 0)).toBe(true);
  });

  it('SIGTERM under load: accepted requests finish or get a retryable 503; nothing is lost; through nginx the client sees no failure', async () => {
    const target = cluster.replicas[2];
    const drainMs = 30_000; // compose's XALMA_SHUTDOWN_TIMEOUT_MS
    const throughNginx = runLoad({ url: cluster.url, connections: 4, duration: 10, requests: mixedRequests(8), timeout: 30 });
    // Direct requests: long generations (ignoreEos, 256 tokens: seconds) so that the signal lands mid-batch.
    const outcomes: string[] = [];
    let sentAt = 0;
    const when = () => (sentAt ? `${Date.now() - sentAt} ms after SIGTERM` : 'before SIGTERM');
    const translate = `${target.url}/v1/translate`;
    const direct = Array.from({ length: 16 }, (_, i) =>
      drainOutcome(translate, { text: `Drain test sentence ${i}.`, source: 'en', target: 'de', options: { maxNewTokens: 256, ignoreEos: true } }, when).then((o) => void outcomes.push(o)),
    );
    // Signal once all 16 are in the server's hands (queued or running).
    await waitFor(async () => {
      const m = await (await fetch(`${target.url}/metrics`, { headers: { connection: 'close' } })).text();
      return metric(m, 'xalma_queue_depth') + metric(m, 'xalma_batch_in_flight_rows') >= 16;
    }, 30_000, 'the 16 requests accepted');
    sentAt = Date.now();
    target.service!.signal('SIGTERM');
    // New requests during the drain: refused at connect (never accepted) or 503 SHUTTING_DOWN.
    const late = Array.from({ length: 4 }, (_, i) =>
      sleep(50 * i)
        .then(() => drainOutcome(translate, { text: `late ${i}`, source: 'en', target: 'de', options: { maxNewTokens: 4 } }, when, true))
        .then((o) => void outcomes.push(o)),
    );
    const exit = await target.service!.exited;
    const exitedAfterMs = Date.now() - sentAt;
    await Promise.all([...direct, ...late]);
    const nginxResult = await throughNginx.done;
    const counts = outcomes.reduce<Record<string, number>>((m, o) => ((m[o] = (m[o] ?? 0) + 1), m), {});
    console.log('SIGTERM under load:', JSON.stringify({ exit, exitedAfterMs, direct: counts, throughNginx: { requests: nginxResult.requests.total, non2xx: nginxResult.non2xx, errors: nginxResult.errors, statuses: Object.fromEntries(throughNginx.statuses) } }));

    expect(exit).toBe(0);
    expect(exitedAfterMs).toBeLessThan(drainMs + 5000);
    expect(outcomes.filter((o) => !['ok', 'retryable-503', 'refused', 'reset-unread'].includes(o))).toEqual([]);
    expect(outcomes).toHaveLength(20);
    // The long requests in the server's hands when the signal came were finished, not dropped.
    expect(outcomes.filter((o) => o === 'ok').length).toBeGreaterThanOrEqual(16);
    expect(nginxResult.errors + nginxResult.timeouts + nginxResult.non2xx).toBe(0);
  });
});
