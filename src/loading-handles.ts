/**
 * Stand-ins that let the server listen before its slow parts are loaded (lingua's models and
 * the engine worker: 15-37 s on 2 cores). buildApp takes an Engine and a Detector; these are
 * both, and are filled when loading finishes. What routes need before then (the model's name,
 * groups and dims) comes from manifest.json, read first; requests that need the engine or the
 * detector are kept out by the app's readiness check (server.ts), and a call that still gets
 * here early answers NOT_READY instead of crashing.
 *
 * Each slot owns its part's life: closing it while the part is still loading waits for the
 * start to finish and closes what arrives, so no half-started worker is left behind.
 */
import type { Engine, EngineHealth, EngineStats, LoadingMode, RowListener, TranslationItem, TranslationOutput } from './engine/types.ts';
import { XalmaError } from './errors.ts';
import { emptyStats } from './engine/worker-connection.ts';
import type { Detection, Detector } from './languages/index.ts';
import type { Manifest } from './model/manifest-types.ts';

export type SlotState = 'loading' | 'ready' | 'closed';

/** One part that loads in the background: loading -> ready, or closed at any time. */
class Slot<T> {
  state: SlotState = 'loading';
  private value: T | undefined;
  private starting: Promise<T> | undefined;

  constructor(private readonly what: string, private readonly release: (value: T) => unknown) {}

  /** Resolves with the part once it is in; rejects with SHUTTING_DOWN when closed meanwhile. */
  async load(starting: Promise<T>): Promise<T> {
    if (this.state === 'closed') throw new XalmaError('SHUTTING_DOWN', `closed before the ${this.what} started loading`);
    this.starting = starting;
    const value = await starting;
    // close() came first: it awaits the same start and releases the value itself.
    if ((this.state as SlotState) === 'closed') throw new XalmaError('SHUTTING_DOWN', `closed while the ${this.what} was loading`);
    this.value = value;
    this.state = 'ready';
    return value;
  }

  get(): T {
    if (this.value === undefined) throw new XalmaError('NOT_READY', `the ${this.what} is loading`);
    return this.value;
  }

  peek(): T | undefined {
    return this.value;
  }

  async close(): Promise<void> {
    const wasLoading = this.state === 'loading';
    this.state = 'closed';
    // A start that fails has nothing to release; its error belongs to whoever awaits load().
    const value = this.value ?? (wasLoading ? await this.starting?.catch(() => undefined) : undefined);
    this.value = undefined;
    if (value !== undefined) await this.release(value);
  }
}



export class EngineHandle implements Engine {
  readonly manifest: Manifest;
  readonly mode: LoadingMode;
  readonly provider: string;
  /** As the engine decides it (engine.ts): only `all` mode runs a batch of mixed groups. */
  readonly mixesGroups: boolean;
  private readonly slot = new Slot<Engine>('engine', (engine) => engine.close());

  constructor(options: { manifest: Manifest; mode: LoadingMode; provider: string }) {
    this.manifest = options.manifest;
    this.mode = options.mode;
    this.provider = options.provider;
    this.mixesGroups = options.mode === 'all';
  }

  get state(): SlotState {
    return this.slot.state;
  }

  load(starting: Promise<Engine>): Promise<Engine> {
    return this.slot.load(starting);
  }

  /** The loaded engine (tests inject faults into it); undefined while loading or after close. */
  get current(): Engine | undefined {
    return this.slot.peek();
  }

  translateBatch(items: TranslationItem[], onRow?: RowListener): Promise<Array<TranslationOutput | XalmaError>> {
    return this.slot.get().translateBatch(items, onRow);
  }

  warmup(): Promise<void> {
    return this.slot.get().warmup();
  }

  /** Zero until the engine is in: /metrics answers while it loads. */
  stats(): EngineStats {
    return this.slot.peek()?.stats() ?? emptyStats();
  }

  /** Serving while it loads: the process is alive (/health 200); /ready reports the loading. */
  health(): EngineHealth {
    return this.slot.peek()?.health() ?? { state: 'serving', restarts: 0 };
  }

  close(): Promise<void> {
    return this.slot.close();
  }
}

export class DetectorHandle implements Detector {
  private readonly slot = new Slot<Detector>('language detector', (detector) => detector.dispose());

  get state(): SlotState {
    return this.slot.state;
  }

  get engines(): readonly string[] {
    return this.slot.peek()?.engines ?? [];
  }

  load(starting: Promise<Detector>): Promise<Detector> {
    return this.slot.load(starting);
  }

  detect(text: string): Detection {
    return this.slot.get().detect(text);
  }

  preload(): void {
    this.slot.get().preload();
  }

  preloadInSteps(signal?: AbortSignal): Promise<void> {
    return this.slot.get().preloadInSteps(signal);
  }

  dispose(): void {
    void this.slot.close();
  }

  /** dispose() that resolves once a detector still being created has been disposed too. */
  close(): Promise<void> {
    return this.slot.close();
  }
}
