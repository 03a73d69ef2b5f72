/**
 * The server's life as the HTTP layer reports it (/ready, refusals while loading or draining).
 * One owner: startServer moves it forward; routes only read it.
 *
 * `starting` covers loading and warm-up: the port answers at once while the detector and the
 * engine load (together 15-37 s on 2 cores, most of it lingua's models), so `loading` names
 * what is still missing. Routes that need a missing part answer 503 NOT_READY until it is there.
 */
export type LifecycleState = 'starting' | 'ready' | 'draining';

/** What start-up loads in the background; a route that needs one waits for it (NOT_READY). */
export type LoadingPart = 'detector' | 'engine';

export class Lifecycle {
  private current: LifecycleState;
  private readonly pending: Set<LoadingPart>;

  constructor(initial: LifecycleState = 'starting', loading: readonly LoadingPart[] = []) {
    this.current = initial;
    this.pending = new Set(loading);
  }

  get state(): LifecycleState {
    return this.current;
  }

  /** Parts still loading, in a stable order (empty once both are in; warm-up may still run). */
  get loading(): LoadingPart[] {
    return [...this.pending].sort();
  }

  /** true when every part is loaded: routes that need the model or the detector may run. */
  get loaded(): boolean {
    return this.pending.size === 0;
  }

  markLoaded(part: LoadingPart): void {
    this.pending.delete(part);
  }

  markReady(): void {
    if (this.current === 'starting' && this.pending.size === 0) this.current = 'ready';
  }

  markDraining(): void {
    this.current = 'draining';
  }
}
