/**
 * The three loading modes behind one interface. A runner turns a batch's groups into a
 * `StepFn` for generate.ts; the engine never sees module files, only group ids.
 *   single: one session whose LoRA factors are graph inputs; the active module's tensors are
 *           swapped per batch (a cached module is a map lookup; a miss loads from disk).
 *   merged: one session per group with W + scale*B@A baked in; sessions kept in an LRU.
 *   all:    one session with every group's factors stacked; rows pick theirs by module_ids.
 */
import { XalmaError, isXalmaError } from '../errors.ts';
import { linearShape } from '../model/architecture.ts';
import type { ModelPackage, PackageFile } from '../model/package.ts';
import type { SafetensorsHeader } from '../model/safetensors.ts';
import { mergedWeightsFile } from './merged-weights.ts';
import { pastKeyName, pastValueName, presentKeyName, presentValueName, loraInputName, type StackedKernel } from '../model/graph-builder.ts';
import { ModuleCache, bump, type ModuleCacheStats } from '../lora/cache.ts';
import { checkedModuleFile, factorKey, loadModuleFile, type LoadedModule } from '../lora/module-file.ts';
import { createSession, floatTensor, int32Tensor, int64Tensor, tensorData, type OrtFeeds, type Session, type SessionConfig } from './ort.ts';
import { allModeGraph, engineKvLayout, mergedModeGraph, singleModeGraph } from './graphs.ts';
import type { StepBatch, StepFn } from './generate.ts';
import type { LoadingMode } from './types.ts';

export interface ModeStats {
  moduleLoads: Record<number, number>;
  moduleEvictions: Record<number, number>;
  moduleHits: Record<number, number>;
}

export interface ModeRunner {
  readonly mode: LoadingMode;
  readonly provider: string;
  /**
   * Makes the groups' modules usable and pins them; resolves to a StepFn for a batch of those
   * groups plus the groups that failed (with their coded error). Call `release` afterwards.
   */
  prepare(groups: number[]): Promise<{ step: StepFn | null; failed: Map<number, XalmaError> }>;
  release(groups: number[]): void;
  stats(): ModeStats;
  close(): Promise<void>;
}

export interface RunnerOptions {
  pkg: ModelPackage;
  header: SafetensorsHeader;
  session: SessionConfig;
  /** single: modules resident at once (LRU). */
  maxResidentModules: number;
  maxModuleBytes: number;
  /** merged: sessions resident at once (LRU). */
  maxMergedSessions: number;
  /** all: stacked LoRA kernel (bench/engine.ts compares them). */
  stackedKernel: StackedKernel;
  /** Verify module sha256 on a group's first load in this process. */
  verifyChecksums: boolean;
}

function asCodedModuleError(err: unknown, group: number): XalmaError {
  if (isXalmaError(err)) return err;
  return new XalmaError('MODULE_UNAVAILABLE', `group ${group}: ${(err as Error).message}`, { group }, { cause: err });
}

/**
 * A StepFn over one session: ids, positions, the KV cache (fed as views of kv-cache.ts, no
 * copy), plus what `extra` adds (LoRA factors, module ids). The graph returns the step's new keys
 * and values, written here at each row's length. 'gqa': GroupQueryAttention reads each row's
 * own length (seqlens_k). 'append': standard attention over the whole capacity, masked; a
 * prompt step over empty caches reads no past at all.
 */
export function stepWith(session: Session, pkg: ModelPackage, extra: (b: StepBatch, feeds: OrtFeeds) => void, layout = engineKvLayout(pkg)): StepFn {
  const { numLayers: L, numKvHeads: kvh, headDim: hd } = pkg.manifest.dims;
  return async (b) => {
    const feeds: OrtFeeds = {
      input_ids: int64Tensor(b.inputIds, [b.rows, b.seqLen]),
      position_ids: int64Tensor(b.positionIds, [b.rows, b.seqLen]),
      logits_index: int64Tensor(b.logitsIndex, [b.rows]),
    };
    const fresh = layout === 'append' && b.pastLens.every((n) => n === 0);
    const pastCap = fresh ? 0 : b.kv.capacity;
    if (layout === 'gqa') {
      const seqlens = new Int32Array(b.rows);
      let total = 0;
      for (let r = 0; r < b.rows; r++) {
        seqlens[r] = b.pastLens[r] + b.newLens[r] - 1;
        total = Math.max(total, seqlens[r] + 1);
      }
      // A first prompt must name its padded length (GroupQueryAttention's first-prompt rule). A
      // multi-token step over a past (a prompt after a cached head) names its real total; GQA
      // takes those at batch 1 only, so there is no padding to count.
      if (b.seqLen > 1 && b.pastLens.every((n) => n === 0)) total = b.seqLen;
      feeds.seqlens_k = int32Tensor(seqlens, [b.rows]);
      feeds.total_sequence_length = int32Tensor(Int32Array.of(total), []);
    } else {
      const T = pastCap + b.seqLen;
      const mask = new BigInt64Array(b.rows * T);
      for (let r = 0; r < b.rows; r++) {
        for (let t = 0; t < b.pastLens[r] && t < pastCap; t++) mask[r * T + t] = 1n;
        for (let j = 0; j < b.newLens[r]; j++) mask[r * T + pastCap + j] = 1n;
      }
      feeds.attention_mask = int64Tensor(mask, [b.rows, T]);
    }
    const empty = new Float32Array(0);
    for (let l = 0; l < L; l++) {
      feeds[pastKeyName(l)] = floatTensor(fresh ? empty : b.kv.view(l, 'key', b.firstSlot, b.rows), [b.rows, kvh, pastCap, hd]);
      feeds[pastValueName(l)] = floatTensor(fresh ? empty : b.kv.view(l, 'value', b.firstSlot, b.rows), [b.rows, kvh, pastCap, hd]);
    }
    extra(b, feeds);
    const out = await session.run(feeds);
    for (let l = 0; l < L; l++) {
      b.kv.write(l, 'key', b.firstSlot, tensorData(out[presentKeyName(l)]), b.seqLen, b.pastLens, b.newLens);
      b.kv.write(l, 'value', b.firstSlot, tensorData(out[presentValueName(l)]), b.seqLen, b.pastLens, b.newLens);
    }
    return { logits: tensorData(out.logits) };
  };
}

/** Per-group module counters as each runner keeps them (the LoRA cache keeps the same shape). */
type ModuleCounters = Pick<ModuleCacheStats, 'loads' | 'evictions' | 'hits'>;

function snapshot(c: ModuleCounters): ModeStats {
  return { moduleLoads: { ...c.loads }, moduleEvictions: { ...c.evictions }, moduleHits: { ...c.hits } };
}

/** single: base + the active module, factors as graph inputs. */
export class SingleModeRunner implements ModeRunner {
  readonly mode = 'single' as const;
  /** One step function per resident module: rows of the same module share it (generate.ts batches by step). */
  private readonly stepOf = new WeakMap<LoadedModule, StepFn>();
  private readonly verified = new Set<number>();
  readonly cache: ModuleCache;

  private constructor(private readonly opts: RunnerOptions, private readonly session: Session) {
    this.cache = new ModuleCache({
      maxModules: opts.maxResidentModules,
      maxBytes: opts.maxModuleBytes,
      load: (group) => this.load(group),
    });
  }

  static async create(opts: RunnerOptions): Promise<SingleModeRunner> {
    const session = await createSession(singleModeGraph(opts.pkg, opts.header), opts.session, opts.pkg.dir);
    return new SingleModeRunner(opts, session);
  }

  get provider(): string {
    return this.session.provider;
  }

  private async load(group: number): Promise<LoadedModule> {
    const verify = this.opts.verifyChecksums && !this.verified.has(group);
    const m = await loadModuleFile(this.opts.pkg, group, { verifyChecksum: verify });
    this.verified.add(group);
    return m;
  }

  /** Activation: wrap the module's factors as ORT tensors once (no copy) and reuse them. */
  private activate(m: LoadedModule): StepFn {
    let step = this.stepOf.get(m);
    if (step) return step;
    const lora: OrtFeeds = {};
    const { dims, lora: cfg } = this.opts.pkg.manifest;
    for (let l = 0; l < dims.numLayers; l++) {
      for (const t of cfg.targets) {
        const f = m.factors.get(factorKey(l, t))!;
        const [inDim, outDim] = linearShape(dims, t);
        lora[loraInputName(l, t, 'A')] = floatTensor(f.A, [cfg.rank, inDim]);
        lora[loraInputName(l, t, 'B')] = floatTensor(f.B, [outDim, cfg.rank]);
      }
    }
    step = stepWith(this.session, this.opts.pkg, (_b, feeds) => Object.assign(feeds, lora));
    this.stepOf.set(m, step);
    return step;
  }

  async prepare(groups: number[]) {
    const failed = new Map<number, XalmaError>();
    if (new Set(groups).size !== 1) throw new XalmaError('INTERNAL_ERROR', 'single mode runs one group per batch');
    const group = groups[0];
    try {
      const m = await this.cache.acquire(group);
      return { step: this.activate(m), failed };
    } catch (err) {
      failed.set(group, asCodedModuleError(err, group));
      return { step: null, failed };
    }
  }

  release(groups: number[]): void {
    for (const g of new Set(groups)) this.cache.release(g);
  }

  stats(): ModeStats {
    return snapshot(this.cache.stats);
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/**
 * merged: a session per group with the module folded into the weights. Which groups have a
 * session is the module cache's business (lora/cache.ts), as single mode's factors are: LRU,
 * one build per group at a time, pinned while rows run, released when evicted and unpinned.
 */
export class MergedModeRunner implements ModeRunner {
  readonly mode = 'merged' as const;
  private readonly stepOf = new WeakMap<Session, StepFn>();
  readonly cache: ModuleCache<Session>;
  private lastProvider: string;

  private constructor(private readonly opts: RunnerOptions) {
    this.lastProvider = opts.session.provider;
    this.cache = new ModuleCache<Session>({
      maxModules: opts.maxMergedSessions,
      // Counted by sessions: each holds a whole merged model.
      maxBytes: Number.MAX_SAFE_INTEGER,
      sizeOf: () => 1,
      load: (group) => this.build(group),
      dispose: (session) => void session.release(),
    });
  }

  /** No weights are read here: each group's session reads the base and module files in place. */
  static async create(opts: RunnerOptions): Promise<MergedModeRunner> {
    return new MergedModeRunner(opts);
  }

  get provider(): string {
    return this.lastProvider;
  }

  private async build(group: number): Promise<Session> {
    const { pkg } = this.opts;
    const module = await checkedModuleFile(pkg, group, { verifyChecksum: this.opts.verifyChecksums });
    // Float weights fold W + scale*B@A inside the graph; quantized ones read a merged file
    // (the import's, or one written now from the base and the module, once per package).
    const float = pkg.manifest.dtype === 'float32' || pkg.manifest.dtype === 'float16';
    const imported = pkg.manifest.merged?.some((m) => m.group === group);
    const source = float && !imported ? { module } : { merged: await mergedWeightsFile(pkg, group, this.opts.header, module.header) };
    const session = await createSession(mergedModeGraph(pkg, this.opts.header, source), this.opts.session, pkg.dir);
    this.lastProvider = session.provider;
    return session;
  }

  async prepare(groups: number[]) {
    const failed = new Map<number, XalmaError>();
    if (new Set(groups).size !== 1) throw new XalmaError('INTERNAL_ERROR', 'merged mode runs one group per batch');
    const group = groups[0];
    try {
      const session = await this.cache.acquire(group);
      let step = this.stepOf.get(session);
      if (!step) this.stepOf.set(session, (step = stepWith(session, this.opts.pkg, () => {})));
      return { step, failed };
    } catch (err) {
      failed.set(group, asCodedModuleError(err, group));
      return { step: null, failed };
    }
  }

  release(groups: number[]): void {
    for (const g of new Set(groups)) this.cache.release(g);
  }

  stats(): ModeStats {
    return snapshot(this.cache.stats);
  }

  async close(): Promise<void> {
    this.cache.clear();
  }
}

/** all: every module resident in one stacked graph; a batch may mix groups. */
export class AllModeRunner implements ModeRunner {
  readonly mode = 'all' as const;
  private session: Session | null = null;
  private readonly modules: Array<PackageFile | null>;
  private readonly failures = new Map<number, XalmaError>();
  private readonly counters: ModuleCounters = { loads: {}, evictions: {}, hits: {} };
  private rebuilding: Promise<void> | null = null;
  private step: { session: Session; fn: StepFn } | null = null;
  private inFlight = 0;
  private readonly slotOf: Map<number, number>;

  private constructor(private readonly opts: RunnerOptions) {
    const groups = opts.pkg.manifest.groups;
    this.modules = groups.map(() => null);
    this.slotOf = new Map(groups.map((g, i) => [g.id, i]));
  }

  static async create(opts: RunnerOptions): Promise<AllModeRunner> {
    const r = new AllModeRunner(opts);
    await r.loadMissing();
    return r;
  }

  get provider(): string {
    return this.session?.provider ?? this.opts.session.provider;
  }

  /** Loads every module not yet resident; rebuilds the stacked session when one came in. */
  private async loadMissing(): Promise<void> {
    let changed = false;
    for (const g of this.opts.pkg.manifest.groups) {
      const slot = this.slotOf.get(g.id)!;
      if (this.modules[slot]) continue;
      try {
        this.modules[slot] = await checkedModuleFile(this.opts.pkg, g.id, { verifyChecksum: this.opts.verifyChecksums });
        this.failures.delete(g.id);
        bump(this.counters.loads, g.id);
        changed = true;
      } catch (err) {
        this.failures.set(g.id, asCodedModuleError(err, g.id));
      }
    }
    if (changed || !this.session) {
      const next = await createSession(allModeGraph(this.opts.pkg, this.opts.header, this.modules, this.opts.stackedKernel), this.opts.session, this.opts.pkg.dir);
      const old = this.session;
      this.session = next;
      // Batches still running on the old session finish before it is released (inFlight is 0 here).
      if (old) await old.release();
    }
  }

  async prepare(groups: number[]) {
    const failed = new Map<number, XalmaError>();
    // A failed module is retried on a later request for its group; the retry waits for
    // running batches, since the session is swapped underneath them.
    if (groups.some((g) => this.failures.has(g)) && this.inFlight === 0) {
      this.rebuilding ??= this.loadMissing().finally(() => (this.rebuilding = null));
      await this.rebuilding;
    }
    for (const g of new Set(groups)) {
      const err = this.failures.get(g) ?? (this.slotOf.has(g) ? undefined : new XalmaError('MODULE_UNAVAILABLE', `group ${g} is not in the manifest`, { group: g }));
      if (err) failed.set(g, err);
      else bump(this.counters.hits, g);
    }
    this.inFlight++;
    return { step: this.stepFor(this.session!), failed };
  }

  /** One step function per stacked session (rows of every group share it). */
  private stepFor(session: Session): StepFn {
    if (this.step?.session === session) return this.step.fn;
    const slotOf = this.slotOf;
    const G = this.modules.length;
    const grouped = this.opts.stackedKernel === 'grouped';
    const fn = stepWith(session, this.opts.pkg, (b, feeds) => {
      // b.modules holds group ids; the graph wants slot indices.
      const slots = Int32Array.from(b.modules, (m) => slotOf.get(m) ?? 0);
      if (!grouped) {
        feeds.module_ids = int64Tensor(BigInt64Array.from(slots, BigInt), [b.rows]);
        return;
      }
      // Token rows sorted by module (a counting sort, stable): each module's rows are one run.
      const S = b.seqLen;
      const counts = new Int32Array(G + 1);
      for (let r = 0; r < b.rows; r++) counts[slots[r] + 1] += S;
      for (let k = 0; k < G; k++) counts[k + 1] += counts[k];
      const bounds = BigInt64Array.from(counts, BigInt);
      const next = counts.slice(0, G);
      const order = new BigInt64Array(b.rows * S);
      const inverse = new BigInt64Array(b.rows * S);
      for (let r = 0; r < b.rows; r++) {
        for (let j = 0; j < S; j++) {
          const at = next[slots[r]]++;
          order[at] = BigInt(r * S + j);
          inverse[r * S + j] = BigInt(at);
        }
      }
      feeds.module_order = int64Tensor(order, [order.length]);
      feeds.module_inverse = int64Tensor(inverse, [inverse.length]);
      feeds.module_bounds = int64Tensor(bounds, [G + 1]);
    });
    this.step = { session, fn };
    return fn;
  }


  release(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
  }

  stats(): ModeStats {
    return snapshot(this.counters);
  }

  async close(): Promise<void> {
    await this.session?.release();
  }
}

export async function createRunner(mode: LoadingMode, opts: RunnerOptions): Promise<ModeRunner> {
  switch (mode) {
    case 'single': return SingleModeRunner.create(opts);
    case 'merged': return MergedModeRunner.create(opts);
    case 'all': return AllModeRunner.create(opts);
  }
}
