/**
 * Detects an engine worker that stopped answering, and condemns it only when that is safe.
 *
 * One ping is outstanding at a time; the worker's message loop acknowledges it in shared memory
 * (worker-liveness.ts). The worker is hung when a ping has waited `hangTimeoutMs` and, all that
 * time, the worker ran no onnxruntime call: onnxruntime runs on the worker's own thread (a
 * prefill of 32 prompts on the bench model holds it ~1.4 s, a 13B model far longer), so a
 * worker inside a call cannot answer, and is not hung for it. Every call that is in flight or
 * has ended since the last look restarts the ping's clock, which gives the worker a whole
 * timeout after its last call to reach the ping.
 *
 * The verdict and the condemnation are one compare-and-exchange (`condemn`): if a call began
 * between the look and the verdict, the swap fails and the clock restarts. So a hung verdict
 * always comes with a worker that has no call in flight and can start none.
 *
 * Time comes from the injected clock (tests drive it); the timer only decides how often to look.
 */
import type { SupervisorLiveness } from './worker-liveness.ts';

export interface HangWatchdogOptions {
  liveness: Pick<SupervisorLiveness, 'activity' | 'acked' | 'condemn'>;
  /** Sends the worker a ping carrying `seq`. */
  ping(seq: number): void;
  /** The worker is condemned: it may be terminated. Called once; the watchdog has stopped. */
  onHung(silentMs: number): void;
  hangTimeoutMs: number;
  checkIntervalMs: number;
  now: () => number;
}

export class HangWatchdog {
  private seq = 0;
  /** When the outstanding ping was sent, or the worker was last seen in onnxruntime. */
  private since = 0;
  private lastEnded = 0;
  private timer: NodeJS.Timeout | undefined;
  private done = false;

  constructor(private readonly opts: HangWatchdogOptions) {}

  start(): void {
    this.lastEnded = this.opts.liveness.activity().ended;
    this.sendPing(this.opts.now());
    // unref: a watchdog alone never keeps the process alive (the worker does, while it runs).
    this.timer = setInterval(() => this.check(), this.opts.checkIntervalMs).unref();
  }

  stop(): void {
    this.done = true;
    clearInterval(this.timer);
  }

  /** One look (the timer calls it; tests may too). */
  check(): void {
    if (this.done) return;
    const now = this.opts.now();
    const { liveness } = this.opts;
    if (liveness.acked() >= this.seq) return this.sendPing(now);
    const { inFlight, ended } = liveness.activity();
    if (inFlight > 0 || ended !== this.lastEnded) {
      this.lastEnded = ended;
      this.since = now;
      return;
    }
    if (now - this.since < this.opts.hangTimeoutMs) return;
    if (!liveness.condemn()) {
      this.since = now; // a call began after the look above
      return;
    }
    this.stop();
    this.opts.onHung(now - this.since);
  }

  private sendPing(now: number): void {
    this.seq++;
    this.since = now;
    this.opts.ping(this.seq);
  }
}
