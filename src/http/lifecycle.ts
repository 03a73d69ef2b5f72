/**
 * The server's life as the HTTP layer reports it (/ready, refusals while draining).
 * One owner: startServer moves it forward; routes only read it.
 */
export type LifecycleState = 'starting' | 'ready' | 'draining';

export class Lifecycle {
  private current: LifecycleState;

  constructor(initial: LifecycleState = 'starting') {
    this.current = initial;
  }

  get state(): LifecycleState {
    return this.current;
  }

  markReady(): void {
    if (this.current === 'starting') this.current = 'ready';
  }

  markDraining(): void {
    this.current = 'draining';
  }
}
