/**
 * node-llama-cpp (llama.cpp's Node binding), the llama.cpp peer of bench/llamacpp.ts and the
 * correctness oracle of test/unit/export/llamacpp-oracle.test.ts. It is bench-only: ~700 MB
 * with its prebuilt binaries, so it is not in package.json and `npm ci` never installs it.
 *
 * Where it lives: `node_modules/node-llama-cpp` if someone installed it there, else a private
 * prefix under bench/.models/ (gitignored), where `ensureNodeLlamaCpp` installs it. A
 * `npm install --no-save` into the project's own node_modules would be pruned by the next
 * `npm install` of anything else, so the bench keeps its own copy.
 *
 * Parity settings (checked with 3.22.1 on the F16 fixture, issue 14): flash attention off and an
 * F32 KV cache (the defaults move logits by ~2e-3 and can flip a greedy token); `threads` = the
 * cores we measure on (its default of >= 4 threads is 10-100x slower on 2 cores).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../../src/paths.ts';

export const LLAMACPP_VERSION = '3.22.1';
/** Where the bench installs node-llama-cpp; LLAMACPP_PREFIX points elsewhere (a shared install, or none to test the skip). */
export const LLAMACPP_PREFIX = process.env.LLAMACPP_PREFIX || join(REPO_ROOT, 'bench', '.models', 'llamacpp');

/** The slice of node-llama-cpp's API used here (it is not installed when tsc runs). */
export interface NodeLlamaCpp {
  getLlama(opts: { gpu: false; build: 'never'; logLevel?: string; maxThreads?: number }): Promise<Llama>;
}
export interface Llama {
  loadModel(opts: { modelPath: string }): Promise<LlamaModel>;
  dispose(): Promise<void>;
}
export interface LlamaModel {
  createContext(opts: Record<string, unknown>): Promise<LlamaContext>;
  tokenize(text: string, specialTokens?: boolean): number[];
  dispose(): Promise<void>;
}
export interface LlamaContext {
  getSequence(): LlamaSequence;
  dispose(): Promise<void>;
}
export interface LlamaSequence {
  clearHistory(): Promise<void>;
  evaluate(tokens: number[], opts?: Record<string, unknown>): AsyncGenerator<number, void, void>;
  evaluateWithoutGeneratingNewTokens(tokens: number[]): Promise<void>;
  controlledEvaluate(input: Array<number | [number, object]>): Promise<Array<{ next: { logits?: Map<number, number> } } | undefined>>;
  dispose(): void;
}

export type LoadResult = { ok: true; lib: NodeLlamaCpp; from: string } | { ok: false; reason: string };

/** node-llama-cpp from node_modules or the bench prefix; never installs. */
export async function importNodeLlamaCpp(): Promise<LoadResult> {
  const errors: string[] = [];
  const prefixed = join(LLAMACPP_PREFIX, 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
  // A variable specifier: tsc must not resolve a package that is deliberately not installed.
  const bare = 'node-llama-cpp';
  for (const [from, spec] of [['node_modules', bare], [LLAMACPP_PREFIX, pathToFileURL(prefixed).href]] as const) {
    if (from !== 'node_modules' && !existsSync(prefixed)) {
      errors.push(`${from}: absent`);
      continue;
    }
    try {
      return { ok: true, lib: (await import(spec)) as NodeLlamaCpp, from };
    } catch (err) {
      errors.push(`${from}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return { ok: false, reason: `node-llama-cpp is not installed (${errors.join('; ')}); the bench installs it: npx tsx bench/llamacpp.ts` };
}

/** node-llama-cpp, installed into the bench prefix first when missing (offline-capable prebuilt CPU binary). */
export async function ensureNodeLlamaCpp(): Promise<NodeLlamaCpp> {
  const found = await importNodeLlamaCpp();
  if (found.ok) return found.lib;
  await mkdir(LLAMACPP_PREFIX, { recursive: true });
  console.error(`installing node-llama-cpp@${LLAMACPP_VERSION} into ${LLAMACPP_PREFIX} (bench-only, ~700 MB)`);
  const res = spawnSync('flock', ['/tmp/npm.lock', 'npm', 'install', '--prefix', LLAMACPP_PREFIX, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `node-llama-cpp@${LLAMACPP_VERSION}`], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (res.status !== 0) throw new Error(`npm install node-llama-cpp@${LLAMACPP_VERSION} failed (exit ${res.status ?? res.signal})`);
  const again = await importNodeLlamaCpp();
  if (!again.ok) throw new Error(again.reason);
  return again.lib;
}

/** Threads for llama.cpp: the cores we run on (override with LLAMACPP_THREADS). */
export function llamaThreads(): number {
  return Number(process.env.LLAMACPP_THREADS) || availableParallelism();
}

/** The CPU backend, prebuilt binary only (no compilation, no download); contexts use at most `maxThreads`. */
export async function getCpuLlama(lib: NodeLlamaCpp, maxThreads = llamaThreads()): Promise<Llama> {
  return lib.getLlama({ gpu: false, build: 'never', logLevel: 'error', maxThreads });
}

export interface ParityContextOptions {
  sequences?: number;
  /** Tokens per sequence. */
  contextSize: number;
  /** GGUF LoRA adapters applied to the whole context (llama.cpp has no per-sequence adapter). */
  lora?: string;
  batchSize?: number;
  /** Threads of this context's evaluations (default llamaThreads()). */
  threads?: number;
}

/** A context with the settings under which llama.cpp matches our fp32 numerics. */
export function createParityContext(model: LlamaModel, opts: ParityContextOptions): Promise<LlamaContext> {
  return model.createContext({
    sequences: opts.sequences ?? 1,
    contextSize: opts.contextSize,
    ...(opts.batchSize ? { batchSize: opts.batchSize } : {}),
    threads: { ideal: opts.threads ?? llamaThreads(), min: opts.threads ?? llamaThreads() },
    flashAttention: false,
    experimentalKvCacheKeyType: 'F32',
    experimentalKvCacheValueType: 'F32',
    ...(opts.lora ? { lora: { adapters: [{ filePath: opts.lora, scale: 1 }] } } : {}),
  });
}

function argmax(logits: Map<number, number>): number {
  let best = -1;
  let bestV = -Infinity;
  for (const [t, v] of logits) if (v > bestV || (v === bestV && t < best)) { best = t; bestV = v; }
  return best;
}

/** Raw logits of a llama.cpp next-token map as a dense array over the vocabulary. */
export function denseLogits(map: Map<number, number>, vocab: number): Float32Array {
  const out = new Float32Array(vocab).fill(-Infinity);
  for (const [t, v] of map) out[t] = v;
  return out;
}

type NextRequest = { generateNext: { logits: boolean | { filter: { tokens: number[]; includeTop: number } } } };

/**
 * Greedy decoding on a fresh sequence history, EOS ignored: the prompt's last-position logits
 * (all of them) and `maxNewTokens` argmax ids, each step fed back one token at a time. Later
 * steps ask only for the top logit (`includeTop: 1`; `includeMax` returns an empty map in 3.22.1).
 */
export async function greedyWithLogits(seq: LlamaSequence, promptIds: number[], maxNewTokens: number, vocab: number): Promise<{ logits: Float32Array; tokens: number[] }> {
  await seq.clearHistory();
  const full = (t: number): [number, NextRequest] => [t, { generateNext: { logits: true } }];
  const top = (t: number): [number, NextRequest] => [t, { generateNext: { logits: { filter: { tokens: [], includeTop: 1 } } } }];
  const out = await seq.controlledEvaluate([...promptIds.slice(0, -1), full(promptIds[promptIds.length - 1])] as Array<number | [number, object]>);
  const first = out[out.length - 1]!.next.logits!;
  const tokens: number[] = [argmax(first)];
  while (tokens.length < maxNewTokens) {
    const [step] = await seq.controlledEvaluate([top(tokens[tokens.length - 1])]);
    tokens.push(argmax(step!.next.logits!));
  }
  return { logits: denseLogits(first, vocab), tokens };
}
