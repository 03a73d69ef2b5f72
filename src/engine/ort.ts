/**
 * The only file that imports onnxruntime-node (as transformers.js keeps ORT in backends/onnx.js).
 * Sessions come from `createSession`; nothing is created at import time.
 *
 * CUDA: onnxruntime-node's npm package bundles the CPU provider only; the CUDA provider's
 * binaries come from onnxruntime-node's install script, run by hand on a GPU host (README "CUDA").
 * When CUDA is requested but absent, session creation fails inside ORT; we log that once and
 * fall back to CPU. The CUDA path is written but untested here (no GPU on this machine).
 */
import * as ort from 'onnxruntime-node';
import type { Logger } from 'pino';

export type OrtTensor = ort.Tensor;
export type OrtFeeds = Record<string, ort.Tensor>;

export interface SessionConfig {
  provider: 'cpu' | 'cuda';
  cudaDeviceId?: number;
  /** Bytes of device memory the CUDA arena may use (provider option gpu_mem_limit). */
  cudaMemLimitBytes?: number;
  /** 0 = ORT's default (one per physical core). */
  intraOpThreads?: number;
  interOpThreads?: number;
  graphOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
  logger?: Logger;
}

export interface Session {
  /** Provider the session actually runs on. */
  readonly provider: 'cpu' | 'cuda';
  readonly inputNames: readonly string[];
  run(feeds: OrtFeeds): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

function sessionOptions(cfg: SessionConfig, provider: 'cpu' | 'cuda', externalDataDir?: string): ort.InferenceSession.SessionOptions {
  const providers: ort.InferenceSession.ExecutionProviderConfig[] =
    provider === 'cuda'
      ? [{ name: 'cuda', deviceId: cfg.cudaDeviceId ?? 0, ...(cfg.cudaMemLimitBytes ? { gpu_mem_limit: cfg.cudaMemLimitBytes } : {}) } as ort.InferenceSession.ExecutionProviderConfig, 'cpu']
      : ['cpu'];
  const opts: ort.InferenceSession.SessionOptions = {
    executionProviders: providers,
    graphOptimizationLevel: cfg.graphOptimization ?? 'all',
    executionMode: 'sequential',
    logSeverityLevel: 3,
  };
  if (cfg.intraOpThreads) opts.intraOpNumThreads = cfg.intraOpThreads;
  if (cfg.interOpThreads) opts.interOpNumThreads = cfg.interOpThreads;
  const session: Record<string, string> = {};
  if (externalDataDir) {
    // Graphs built in memory point at weights inside the model package (ONNX external data);
    // ORT resolves those paths against this folder (and refuses paths that escape it).
    session.model_external_initializers_file_folder_path = externalDataDir;
  }
  opts.extra = { session };
  return opts;
}

let cudaFallbackLogged = false;

/** Brackets a call into onnxruntime (worker-liveness.ts says why the engine worker counts them). */
export interface OrtCallGuard {
  enter(): void;
  leave(): void;
}

let guard: OrtCallGuard | null = null;

/**
 * Makes every later onnxruntime call of this thread go through `g`. The engine worker installs
 * it once, before it loads a model. Per thread rather than per session option: every call must be
 * counted, including those of code that never sees the engine's options (the merge session of
 * merged-weights.ts), and an option can be forgotten where this cannot.
 */
export function guardOrtCalls(g: OrtCallGuard | null): void {
  guard = g;
}

/** From the call until its promise settles: ORT's run waits for a setImmediate turn first. */
async function guarded<T>(call: () => Promise<T>): Promise<T> {
  const g = guard;
  if (!g) return call();
  g.enter();
  try {
    return await call();
  } finally {
    g.leave();
  }
}

/**
 * Creates a session from ONNX bytes (or a file path). `externalDataDir` is the folder that
 * external-data locations in the graph are relative to.
 */
export async function createSession(model: Uint8Array | string, cfg: SessionConfig, externalDataDir?: string): Promise<Session> {
  let provider = cfg.provider;
  let session: ort.InferenceSession;
  const create = (p: 'cpu' | 'cuda') =>
    typeof model === 'string'
      ? guarded(() => ort.InferenceSession.create(model, sessionOptions(cfg, p, externalDataDir)))
      : guarded(() => ort.InferenceSession.create(model, sessionOptions(cfg, p, externalDataDir)));
  try {
    session = await create(provider);
  } catch (err) {
    if (provider !== 'cuda') throw err;
    if (!cudaFallbackLogged) {
      cudaFallbackLogged = true;
      cfg.logger?.warn({ err: String(err) }, 'CUDA execution provider unavailable; falling back to CPU');
    }
    provider = 'cpu';
    session = await create('cpu');
  }
  let released = false;
  return {
    provider,
    inputNames: session.inputNames,
    run: (feeds) => guarded(() => session.run(feeds) as Promise<Record<string, OrtTensor>>),
    // Idempotent: an LRU eviction and a shutdown may both release the same session.
    release: async () => {
      if (released) return;
      released = true;
      await guarded(() => session.release());
    },
  };
}

export function int64Tensor(data: BigInt64Array, dims: number[]): OrtTensor {
  return new ort.Tensor('int64', data, dims);
}

export function int32Tensor(data: Int32Array, dims: number[]): OrtTensor {
  return new ort.Tensor('int32', data, dims);
}

export function floatTensor(data: Float32Array, dims: number[]): OrtTensor {
  return new ort.Tensor('float32', data, dims);
}

export function tensorData(t: OrtTensor): Float32Array {
  return t.data as Float32Array;
}
