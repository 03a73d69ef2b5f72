/**
 * The transformers.js peer, run as its own process by bench/peers.ts (so its onnxruntime
 * threads never share a process with ours or with the load generator).
 *
 * It loads the HF-style copy of the bench model (lib/hf-model.ts: group 1's merged graph, the
 * package's tokenizer) offline, checks that it sees the same prompt token ids as our engine,
 * then runs one `text-generation` pipeline call per request, greedy, exactly NEW_TOKENS new
 * tokens (min_new_tokens = max_new_tokens: EOS is masked until the cap, the same work as our
 * fixed-length runs), `concurrency` calls in flight. Output: one JSON line on stdout.
 *
 *   npx tsx bench/peers-tjs.ts --hf-dir DIR --package DIR [--quick] [--concurrency 1,8,32]
 */
import { basename, dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { env, pipeline, type TextGenerationPipeline } from '@huggingface/transformers';
import { encodePrompt, formatPrompt, loadTokenizer } from '../src/engine/tokenizer.ts';
import { loadModelPackage } from '../src/model/package.ts';
import { callLoad } from './lib/load.ts';
import { medianFigures, medianOf, type RunFigures } from './lib/stats.ts';
import type { PeerCell } from './lib/peers-record.ts';
import { concurrencyList, NEW_TOKENS, QUICK_NEW_TOKENS, requestsFor, workItem, type WorkItem } from './lib/workload.ts';

const { values } = parseArgs({ options: { 'hf-dir': { type: 'string' }, package: { type: 'string' }, quick: { type: 'boolean', default: false }, concurrency: { type: 'string' } } });
if (!values['hf-dir'] || !values.package) throw new Error('--hf-dir and --package are required');
const quick = values.quick!;
const repeats = quick ? 1 : 3;
const newTokens = quick ? QUICK_NEW_TOKENS : NEW_TOKENS;

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = dirname(values['hf-dir']);
const modelId = basename(values['hf-dir']);

const pkg = await loadModelPackage(values.package, { verifyChecksums: false });
const ours = await loadTokenizer(pkg.tokenizerPath);
const template = pkg.manifest.promptTemplate;
// The pipeline adds BOS itself (tokenizer.json's post-processor), so it gets the prompt
// without the template's leading "<s>" marker: the same ids our encodePrompt makes.
const promptText = (item: WorkItem) => formatPrompt(template.replace(/^<s>/, ''), 'English', item.targetName, item.text);

const t0 = performance.now();
const generator = (await pipeline('text-generation', modelId, { dtype: 'fp32', device: 'cpu' })) as TextGenerationPipeline;
const loadMs = performance.now() - t0;

// Same prompt ids as our engine, or the comparison is off.
for (let i = 0; i < 8; i++) {
  const item = workItem(i, 'single-group');
  const theirs = Array.from((generator.tokenizer(promptText(item)).input_ids as { data: BigInt64Array }).data, Number);
  const mine = encodePrompt(ours, { template, sourceName: 'English', targetName: item.targetName, text: item.text });
  if (theirs.join(',') !== mine.join(',')) throw new Error(`prompt ids differ for "${item.text}":\n ours   ${mine.join(',')}\n theirs ${theirs.join(',')}`);
}

/**
 * ORT time inside the pipeline: wraps the decoder session's run to sum call time and the time
 * with at least one call in flight (runs overlap under concurrency).
 */
const ort = { inFlight: 0, since: 0, busyMs: 0, callMs: 0 };
const sessions = (generator.model as unknown as { sessions: Record<string, { run: (...a: unknown[]) => Promise<unknown> }> }).sessions;
for (const session of Object.values(sessions)) {
  const run = session.run.bind(session);
  session.run = async (...a: unknown[]) => {
    const t = performance.now();
    if (ort.inFlight++ === 0) ort.since = t;
    try {
      return await run(...a);
    } finally {
      const end = performance.now();
      ort.callMs += end - t;
      if (--ort.inFlight === 0) ort.busyMs += end - ort.since;
    }
  };
}

/** Counts generated tokens: generate() puts the prompt once, then one put per new token. */
class TokenCounter {
  calls = 0;
  put(): void {
    this.calls++;
  }
  end(): void {}
  get generated(): number {
    return this.calls - 1;
  }
}

async function translate(i: number): Promise<number> {
  const counter = new TokenCounter();
  await generator(promptText(workItem(i, 'single-group')), {
    max_new_tokens: newTokens,
    min_new_tokens: newTokens,
    do_sample: false,
    num_beams: 1,
    return_full_text: false,
    // Duck-typed BaseStreamer: put/end are all generate() calls.
    streamer: counter as never,
  });
  return counter.generated;
}

const perConcurrency: Record<number, PeerCell> = {};
for (const concurrency of concurrencyList(values.concurrency)) {
  const requests = requestsFor(concurrency, quick);
  // Warm-up (not timed): one wave at this concurrency, so every shape ORT will see is planned.
  await callLoad({ concurrency, requests: concurrency, call: translate, newTokens });
  const runs: RunFigures[] = [];
  const busy: number[] = [];
  const perToken: number[] = [];
  for (let r = 0; r < repeats; r++) {
    ort.busyMs = 0;
    ort.callMs = 0;
    const run = await callLoad({ concurrency, requests, call: translate, newTokens });
    runs.push(run);
    busy.push(ort.busyMs / run.wallMs);
    perToken.push(ort.callMs / Math.max(1, run.outputTokens));
  }
  perConcurrency[concurrency] = { median: medianFigures(runs), runs, ortBusyFraction: medianOf(busy), ortMsPerToken: medianOf(perToken) };
  console.error(`transformers.js c=${concurrency}: ${perConcurrency[concurrency].median.tokensPerSec.toFixed(1)} tok/s, p50 ${perConcurrency[concurrency].median.p50Ms.toFixed(0)} ms`);
}
await generator.dispose();
process.stdout.write(JSON.stringify({ system: 'transformers.js', loadMs, repeats, newTokens, perConcurrency }) + '\n');
