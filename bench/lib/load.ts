/**
 * The two load drivers. Both send a fixed number of requests with `concurrency` in flight and
 * time each request the same way (send -> full response), so their percentiles compare:
 *   - `httpLoad`: autocannon against our server, each request's body chosen in turn from a
 *     shared counter (so concurrent connections interleave groups rather than march in step);
 *   - `callLoad`: Promise worker loops around an in-process call (the transformers.js peer).
 */
import { createRequire } from 'node:module';
import { figuresFrom, type RunFigures } from './stats.ts';

interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (req: AutocannonRequest, context: Record<string, number>) => AutocannonRequest;
  onResponse?: (status: number, body: string, context: Record<string, number>) => void;
}
interface AutocannonOptions {
  url: string;
  connections: number;
  amount: number;
  timeout: number;
  requests: AutocannonRequest[];
}
interface AutocannonResult {
  errors: number;
  timeouts: number;
  non2xx: number;
}
// autocannon ships no types; these are the parts used here.
const autocannon = createRequire(import.meta.url)('autocannon') as (opts: AutocannonOptions) => Promise<AutocannonResult>;

export interface HttpLoadOptions {
  url: string;
  concurrency: number;
  requests: number;
  /** Body of the i-th request. */
  body: (i: number) => string;
  /** Tokens every request must return (fixed-length generation). */
  newTokens: number;
}

/** Seconds: a second wave at concurrency 32 on a slow CPU can wait tens of seconds. */
const REQUEST_TIMEOUT_S = 600;

export async function httpLoad(opts: HttpLoadOptions): Promise<RunFigures> {
  let next = 0;
  const latencies: number[] = [];
  let tokens = 0;
  let short = 0;
  let failed = 0;
  // Wall time from the first send to the last response: autocannon itself only notices that
  // `amount` is reached on its 1-second tick, which would round every run up.
  let first = Infinity;
  let last = 0;
  const result = await autocannon({
    url: `${opts.url}/v1/translate`,
    connections: opts.concurrency,
    amount: opts.requests,
    timeout: REQUEST_TIMEOUT_S,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req, context) => {
          context.start = performance.now();
          first = Math.min(first, context.start);
          return { ...req, body: opts.body(next++) };
        },
        onResponse: (status, body, context) => {
          last = performance.now();
          latencies.push(last - context.start);
          if (status !== 200) return void failed++;
          const out = (JSON.parse(body) as { translations: Array<{ outputTokens: number }> }).translations[0].outputTokens;
          tokens += out;
          if (out !== opts.newTokens) short++;
        },
      },
    ],
  });
  return figuresFrom(latencies, last - first, tokens, short, failed + result.errors + result.timeouts);
}

export interface CallLoadOptions {
  concurrency: number;
  requests: number;
  /** Runs the i-th request; resolves to the number of tokens it generated. */
  call: (i: number) => Promise<number>;
  newTokens: number;
}

export async function callLoad(opts: CallLoadOptions): Promise<RunFigures> {
  let next = 0;
  const latencies: number[] = [];
  let tokens = 0;
  let short = 0;
  let failed = 0;
  const worker = async () => {
    for (let i = next++; i < opts.requests; i = next++) {
      const t = performance.now();
      try {
        const n = await opts.call(i);
        tokens += n;
        if (n !== opts.newTokens) short++;
      } catch (err) {
        failed++;
        console.error(`request ${i} failed: ${(err as Error).message}`);
      }
      latencies.push(performance.now() - t);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  return figuresFrom(latencies, performance.now() - t0, tokens, short, failed);
}
