/**
 * How many engine-worker replacements the supervisor may start: at most `max` in any window of
 * `windowMs` (a sliding window over the times of recent restarts). A failure beyond it means the
 * fault is not transient (a request that crashes the worker whenever a client retries it, a
 * broken device, a model file gone), so the engine stops replacing workers and /health fails:
 * an orchestrator's process restart is the next step, not a tighter loop of worker restarts.
 */
export class RestartBudget {
  private readonly times: number[] = [];

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  /** Records a restart at `now` and returns true, or returns false when the window is full. */
  take(now: number): boolean {
    while (this.times.length > 0 && now - this.times[0] >= this.windowMs) this.times.shift();
    if (this.times.length >= this.max) return false;
    this.times.push(now);
    return true;
  }
}
