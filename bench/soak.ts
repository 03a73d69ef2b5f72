/**
 * Soak (issue 11): minutes of mixed traffic against the real server process, then two checks:
 *   - memory: RSS of the server process (every thread: HTTP and engine worker) at the end of
 *     the run vs right after the warm-up, both sampled under the same load (goal: within 10%),
 *     plus the slope of a straight line through every sample after the warm-up (MB/min), which
 *     a slow leak shows before it shows in two points;
 *   - errors: no 5xx other than the deliberate, retryable 503s (QUEUE_FULL, ENGINE_RESTARTED,
 *     SHUTTING_DOWN, NOT_READY); every bad request a 4xx; every stream ends with `done`, and its
 *     deltas add up to the text in it; /health still 200 at the end.
 *
 * Traffic: `--clients` closed-loop clients (each sends its next request when its last one is
 * answered), each request drawn from a seeded mix:
 *   short /v1/translate (1-3 texts, any pair, detected source at times), long multi-sentence
 *   texts, streamed requests read to the end, requests aborted by the client after 20-300 ms
 *   (streamed or not), LibreTranslate /translate (source auto), DeepL /v2/translate (form),
 *   and bad requests (unknown language, broken JSON).
 *
 *   npx tsx bench/soak.ts [--minutes 10] [--warmup 60] [--clients 16] [--model DIR] [--out soak] [-- serve flags]
 * The default model is the embedded demo (many requests per minute, so a per-request leak
 * shows fast); serve flags after `--` (e.g. `-- --mode single`) go to the server. Results:
 * bench/results/<out>.{json,md} (the summary reads soak.json).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_MODEL_DIR } from '../src/paths.ts';
import { machineInfo, writeResults } from './common.ts';
import { startServerProcess } from './lib/server-process.ts';
import { TEXTS } from './lib/workload.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    minutes: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '60' },
    clients: { type: 'string', default: '16' },
    model: { type: 'string', default: DEFAULT_MODEL_DIR },
    seed: { type: 'string', default: '11' },
    out: { type: 'string', default: 'soak' },
  },
});
const minutes = Number(values.minutes);
const warmupS = Number(values.warmup);
const clients = Number(values.clients);
const DELIBERATE_503 = new Set(['QUEUE_FULL', 'ENGINE_RESTARTED', 'SHUTTING_DOWN', 'NOT_READY']);

/** mulberry32: the same request mix for the same seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

type Kind = 'short' | 'long' | 'stream' | 'abort' | 'libre' | 'deepl' | 'bad';
const MIX: Array<[Kind, number]> = [['short', 0.3], ['long', 0.12], ['stream', 0.2], ['abort', 0.1], ['libre', 0.1], ['deepl', 0.08], ['bad', 0.1]];

interface Tally {
  requests: number;
  byKind: Record<string, number>;
  byStatus: Record<string, number>;
  deliberate503: number;
  /** 5xx that are not deliberate, or a bad request that did not get a 4xx, or a broken stream. */
  failures: string[];
  aborted: number;
  streamsChecked: number;
}
const tally: Tally = { requests: 0, byKind: {}, byStatus: {}, deliberate503: 0, failures: [], aborted: 0, streamsChecked: 0 };
const fail = (what: string) => {
  if (tally.failures.length < 50) tally.failures.push(what);
  else tally.failures.length++; // keep counting, keep the first 50 messages
};

const server = await startServerProcess(values.model!, positionals);
console.error(`soak: server pid ${server.pid} at ${server.url}; ${clients} clients, ${warmupS} s warm-up, ${minutes} min measured`);
const languages = ((await (await fetch(`${server.url}/v1/languages`)).json()) as { languages: Array<{ code: string }> }).languages.map((l) => l.code);

function paragraph(r: () => number, sentences: number): string {
  const out: string[] = [];
  for (let i = 0; i < sentences; i++) out.push(TEXTS[Math.floor(r() * TEXTS.length)]);
  return out.join(r() < 0.5 ? ' ' : '\n');
}

async function json(url: string, body: unknown, signal?: AbortSignal): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${server.url}${url}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: kept as text for the failure message
  }
  return { status: res.status, body: parsed };
}

/** Reads a streamed translate to the end; checks done arrives and the deltas add up to its texts. */
async function stream(body: Record<string, unknown>, signal?: AbortSignal): Promise<number> {
  const res = await fetch(`${server.url}/v1/translate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }), signal });
  if (!res.headers.get('content-type')?.startsWith('text/event-stream')) {
    await res.text();
    return res.status;
  }
  const raw = await res.text();
  const deltas: string[] = [];
  let done: { translations: Array<{ text: string }> } | undefined;
  for (const event of raw.split('\n\n')) {
    const name = /^event: (\w+)/m.exec(event)?.[1];
    const data = /^data: (.*)$/m.exec(event)?.[1];
    if (!name || data === undefined) continue;
    const parsed = JSON.parse(data);
    if (name === 'delta') deltas[parsed.index] = (deltas[parsed.index] ?? '') + parsed.text;
    else if (name === 'done') done = parsed;
    else if (name === 'error') {
      if (!DELIBERATE_503.has(parsed.error?.code)) fail(`stream error event ${data}`);
      return 503;
    }
  }
  if (!done) fail(`stream ended without done (${raw.length} bytes)`);
  else {
    tally.streamsChecked++;
    done.translations.forEach((t, i) => {
      if ((deltas[i] ?? '') !== t.text) fail(`stream ${i}: deltas ${JSON.stringify(deltas[i])} != done ${JSON.stringify(t.text)}`);
    });
  }
  return res.status;
}

function count(kind: Kind, status: number, body?: unknown): void {
  tally.requests++;
  tally.byKind[kind] = (tally.byKind[kind] ?? 0) + 1;
  tally.byStatus[status] = (tally.byStatus[status] ?? 0) + 1;
  const code = (body as { error?: { code?: string } } | undefined)?.error?.code;
  if (status === 503 && code && DELIBERATE_503.has(code)) tally.deliberate503++;
  else if (status >= 500) fail(`${kind}: ${status} ${JSON.stringify(body).slice(0, 300)}`);
  else if (kind === 'bad' && (status < 400 || status >= 500)) fail(`bad request answered ${status}`);
  else if (kind !== 'bad' && status !== 200) fail(`${kind}: ${status} ${JSON.stringify(body).slice(0, 300)}`);
}

async function oneRequest(r: () => number): Promise<void> {
  let x = r();
  let kind: Kind = 'short';
  for (const [k, p] of MIX) {
    if ((x -= p) < 0) {
      kind = k;
      break;
    }
  }
  const pick = () => languages[Math.floor(r() * languages.length)];
  const source = pick();
  let target = pick();
  if (target === source) target = source === 'en' ? 'de' : 'en';
  const maxNewTokens = 8 + Math.floor(r() * 40);
  switch (kind) {
    case 'short': {
      const texts = Array.from({ length: 1 + Math.floor(r() * 3) }, () => paragraph(r, 1));
      const res = await json('/v1/translate', { text: texts, ...(r() < 0.3 ? {} : { source }), target, options: { maxNewTokens } });
      return count(kind, res.status, res.body);
    }
    case 'long': {
      const res = await json('/v1/translate', { text: paragraph(r, 4 + Math.floor(r() * 12)), source, target, options: { maxNewTokens: 24 } });
      return count(kind, res.status, res.body);
    }
    case 'stream':
      return count(kind, await stream({ text: paragraph(r, 1 + Math.floor(r() * 4)), source, target, options: { maxNewTokens } }));
    case 'abort': {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), 20 + r() * 280);
      const body = { text: paragraph(r, 3), source, target, options: { maxNewTokens: 200, ignoreEos: true } };
      try {
        const status = r() < 0.5 ? await stream(body, controller.signal) : (await json('/v1/translate', body, controller.signal)).status;
        count(kind, status); // finished before the abort
      } catch (err) {
        if ((err as Error).name !== 'AbortError') throw err;
        tally.requests++;
        tally.byKind.abort = (tally.byKind.abort ?? 0) + 1;
        tally.aborted++;
      } finally {
        clearTimeout(timer);
      }
      return;
    }
    case 'libre': {
      const res = await json('/translate', { q: paragraph(r, 1), source: 'auto', target });
      return count(kind, res.status === 429 ? 503 : res.status, res.status === 429 ? { error: { code: 'QUEUE_FULL' } } : res.body);
    }
    case 'deepl': {
      const form = new URLSearchParams([['text', paragraph(r, 1)], ['text', paragraph(r, 1)], ['target_lang', target.toUpperCase()]]);
      const res = await fetch(`${server.url}/v2/translate`, { method: 'POST', body: form });
      const text = await res.text();
      return count(kind, res.status, text);
    }
    case 'bad': {
      if (r() < 0.5) {
        const res = await json('/v1/translate', { text: 'hello', target: 'xx' });
        return count(kind, res.status, res.body);
      }
      const res = await fetch(`${server.url}/v1/translate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text": "hi"' });
      await res.text();
      return count(kind, res.status);
    }
  }
}

const samples: Array<{ s: number; rssMiB: number }> = [];
const t0 = performance.now();
const elapsedS = () => (performance.now() - t0) / 1000;
const endS = warmupS + minutes * 60;
let stopping = false;
const sampler = setInterval(() => {
  samples.push({ s: Math.round(elapsedS()), rssMiB: rssMiB(server.pid) });
  const last = samples.at(-1)!;
  if (samples.length % 6 === 0) console.error(`soak: ${last.s} s, RSS ${last.rssMiB.toFixed(0)} MiB, ${tally.requests} requests, ${tally.failures.length} failures`);
}, 10_000);
const seed = Number(values.seed);
await Promise.all(
  Array.from({ length: clients }, async (_, c) => {
    const r = rng(seed * 1000 + c);
    while (!stopping) {
      try {
        await oneRequest(r);
      } catch (err) {
        fail(`client ${c}: ${(err as Error).message}`);
      }
      if (elapsedS() >= endS) stopping = true;
    }
  }),
);
clearInterval(sampler);
const rssUnderLoadEnd = rssMiB(server.pid);
await new Promise((r) => setTimeout(r, 5000));
const rssIdleEnd = rssMiB(server.pid);
const health = (await fetch(`${server.url}/health`)).status;
if (health !== 200) fail(`/health answered ${health} at the end`);
await server.stop();

const afterWarmup = samples.filter((s) => s.s >= warmupS);
const baseline = afterWarmup[0]?.rssMiB ?? samples[0].rssMiB;
const ratio = rssUnderLoadEnd / baseline;
// Least-squares slope of RSS over time after the warm-up, in MiB per minute.
const n = afterWarmup.length;
const mx = afterWarmup.reduce((a, s) => a + s.s, 0) / n;
const my = afterWarmup.reduce((a, s) => a + s.rssMiB, 0) / n;
const slope = (afterWarmup.reduce((a, s) => a + (s.s - mx) * (s.rssMiB - my), 0) / afterWarmup.reduce((a, s) => a + (s.s - mx) ** 2, 0)) * 60;
const peak = Math.max(...samples.map((s) => s.rssMiB));

const record = {
  machine: machineInfo(),
  command: `npx tsx bench/soak.ts --minutes ${minutes} --warmup ${warmupS} --clients ${clients}${values.out === 'soak' ? '' : ` --out ${values.out}`}${positionals.length ? ' -- ' + positionals.join(' ') : ''}`,
  model: values.model,
  serveFlags: positionals,
  tally: { ...tally, failureCount: tally.failures.length },
  rss: { afterWarmupMiB: baseline, endUnderLoadMiB: rssUnderLoadEnd, endIdleMiB: rssIdleEnd, peakMiB: peak, ratio, slopeMiBPerMin: slope, samples },
  goals: { rssWithin10Percent: ratio <= 1.1, no5xxButDeliberate: tally.failures.length === 0 },
};
const md = `# Soak

\`${record.command}\` on ${record.machine.cpu} (${record.machine.cores} cores), ${record.machine.date}, commit ${record.machine.commit}.

| | |
|---|---|
| requests | ${tally.requests} (${Object.entries(tally.byKind).map(([k, v]) => `${k} ${v}`).join(', ')}) |
| statuses | ${Object.entries(tally.byStatus).map(([k, v]) => `${k}: ${v}`).join(', ')} |
| aborted by the client | ${tally.aborted} |
| streams read to \`done\`, deltas = text | ${tally.streamsChecked} |
| deliberate 503s | ${tally.deliberate503} |
| failures (5xx not deliberate, bad request not 4xx, broken stream) | ${tally.failures.length} |
| RSS after warm-up | ${baseline.toFixed(0)} MiB |
| RSS at the end (under load / 5 s idle) | ${rssUnderLoadEnd.toFixed(0)} / ${rssIdleEnd.toFixed(0)} MiB |
| end / after warm-up | **${ratio.toFixed(3)}x** (goal <= 1.10x: ${ratio <= 1.1 ? 'met' : 'missed'}) |
| RSS slope after warm-up | ${slope.toFixed(2)} MiB/min |
| peak RSS | ${peak.toFixed(0)} MiB |
${tally.failures.length ? `\nFirst failures:\n\n${tally.failures.slice(0, 10).map((f) => `- ${f}`).join('\n')}\n` : ''}`;
await writeResults(values.out!, record, md);
console.log(md);
process.exit(tally.failures.length ? 1 : 0);
