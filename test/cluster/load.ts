/**
 * Mixed traffic for the cluster test and bench/cluster.ts, driven by autocannon's programmatic
 * API: /v1/translate with fresh texts (engine work) and repeated ones (cache hits), arrays,
 * requests carrying X-Xalma-Group (nginx's affinity upstream), the LibreTranslate route, and
 * GET /v1/languages. Sources are given (`source`), so no replica needs lingua's models.
 */
import { createRequire } from 'node:module';

export interface AutocannonRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (req: AutocannonRequest) => AutocannonRequest;
}

export interface AutocannonOptions {
  url: string;
  connections: number;
  duration: number;
  requests?: AutocannonRequest[];
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  timeout?: number;
}

export interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p90: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  duration: number;
  statusCodeStats: Record<string, { count: number }>;
  '2xx': number;
}

interface AutocannonInstance {
  on(event: 'response', fn: (client: unknown, statusCode: number) => void): void;
  on(event: 'reqError', fn: (err: Error) => void): void;
  stop(): void;
}

// autocannon ships no types; these are the parts used here.
const autocannon = createRequire(import.meta.url)('autocannon') as (opts: AutocannonOptions, cb: (err: Error | null, result: AutocannonResult) => void) => AutocannonInstance;

export interface LoadRun {
  instance: AutocannonInstance;
  done: Promise<AutocannonResult>;
  /** Status codes seen so far, and socket-level errors. */
  statuses: Map<number, number>;
  errors: string[];
}

export function runLoad(opts: AutocannonOptions): LoadRun {
  let finish!: (r: AutocannonResult) => void;
  let fail!: (e: Error) => void;
  const done = new Promise<AutocannonResult>((resolve, reject) => ((finish = resolve), (fail = reject)));
  const instance = autocannon(opts, (err, result) => (err ? fail(err) : finish(result)));
  const statuses = new Map<number, number>();
  const errors: string[] = [];
  instance.on('response', (_client, status) => statuses.set(status, (statuses.get(status) ?? 0) + 1));
  instance.on('reqError', (err) => errors.push(err.message));
  return { instance, done, statuses, errors };
}

const JSON_HEADERS = { 'content-type': 'application/json' };

/** English into four groups (one hop each); X-Xalma-Group carries the target's group (manifest groups). */
const PAIRS: Array<{ source: string; target: string; group: number; text: string }> = [
  { source: 'en', target: 'de', group: 1, text: 'The quick brown fox jumps over the lazy dog.' },
  { source: 'en', target: 'es', group: 2, text: 'The weather is nice today.' },
  { source: 'en', target: 'ru', group: 3, text: 'Thank you very much for your help.' },
  { source: 'en', target: 'ja', group: 6, text: 'Good morning, everyone.' },
];

let counter = 0;
/** A body whose text nobody translated before (a cache miss everywhere). */
function fresh(pair: (typeof PAIRS)[number], maxNewTokens: number): string {
  return JSON.stringify({ text: `${pair.text} #${process.pid}-${Date.now()}-${counter++}`, source: pair.source, target: pair.target, options: { maxNewTokens } });
}

export function mixedRequests(maxNewTokens = 8): AutocannonRequest[] {
  const requests: AutocannonRequest[] = [];
  for (const pair of PAIRS) {
    requests.push({ method: 'POST', path: '/v1/translate', headers: JSON_HEADERS, setupRequest: (r) => ({ ...r, body: fresh(pair, maxNewTokens) }) });
    requests.push({ method: 'POST', path: '/v1/translate', headers: { ...JSON_HEADERS, 'x-xalma-group': String(pair.group) }, setupRequest: (r) => ({ ...r, body: fresh(pair, maxNewTokens) }) });
  }
  // Repeated: cache hits after the first time (L1 on a replica, L2 across them).
  requests.push({ method: 'POST', path: '/v1/translate', headers: JSON_HEADERS, body: JSON.stringify({ text: [PAIRS[0].text, PAIRS[1].text], source: 'en', target: 'de', options: { maxNewTokens } }) });
  requests.push({ method: 'POST', path: '/translate', headers: JSON_HEADERS, body: JSON.stringify({ q: PAIRS[2].text, source: 'en', target: 'sv' }) });
  requests.push({ method: 'GET', path: '/v1/languages' });
  return requests;
}

/** A repeated translation: after the first, every request is a cache hit (HTTP work only). */
export function cachedRequests(): AutocannonRequest[] {
  return [{ method: 'POST', path: '/v1/translate', headers: JSON_HEADERS, body: JSON.stringify({ text: PAIRS[0].text, source: PAIRS[0].source, target: PAIRS[0].target, options: { maxNewTokens: 8 } }) }];
}

/**
 * Only fresh translations: every request is engine work (the bench's throughput runs), into
 * all four groups or, with `pairs: 1`, into one (no module switches: steadier numbers).
 */
export function freshRequests(maxNewTokens: number, withGroup: boolean, pairs = PAIRS.length): AutocannonRequest[] {
  return PAIRS.slice(0, pairs).map((pair) => ({
    method: 'POST',
    path: '/v1/translate',
    headers: withGroup ? { ...JSON_HEADERS, 'x-xalma-group': String(pair.group) } : JSON_HEADERS,
    setupRequest: (r: AutocannonRequest) => ({ ...r, body: fresh(pair, maxNewTokens) }),
  }));
}
