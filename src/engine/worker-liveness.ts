/**
 * The words of shared memory an engine worker and its supervisor (threaded-engine.ts) use to
 * decide, without a message round trip, whether the worker may be terminated.
 *
 * Why: `worker.terminate()` while the worker is inside an onnxruntime call aborts the whole
 * process (measured: a terminate 30 ms into a generation ends node with "terminate called after
 * throwing an instance of 'Napi::Error'", exit 134), while terminating a worker that is between
 * calls is clean (8 of 8 terminations of an idle, warm worker in all and single mode). So:
 * - the worker counts the onnxruntime calls it has in flight (ort.ts brackets every call, from
 *   the call to its promise settling, so an awaited run counts while it waits for its turn);
 * - the supervisor may terminate only after it has swapped that count from 0 to CONDEMNED, one
 *   compare-and-exchange; once condemned, the worker's next `enter` throws instead of calling
 *   onnxruntime. A count that is not 0 makes the swap fail: no call can be in flight when the
 *   terminate is sent, and none can start after it.
 * - Ping acknowledgements live here too, so a supervisor whose own event loop stalled for a while
 *   still sees that the worker answered (a `pong` message would sit unread in its queue).
 */
import { XalmaError } from '../errors.ts';

/** Slots of the Int32Array. */
const CALLS = 0; // onnxruntime calls in flight in the worker, or CONDEMNED
const CALLS_ENDED = 1; // onnxruntime calls finished since the worker started (wraps; compared for change)
const PING_ACK = 2; // the last ping sequence number the worker's message loop reached
const FAULT_GATE = 3; // tests and drills: a worker blocked by a fault waits while this is 0
const SLOTS = 4;
const CONDEMNED = -1;

export function createLivenessBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(SLOTS * Int32Array.BYTES_PER_ELEMENT);
}

/** The worker's side: brackets onnxruntime calls, acknowledges pings. */
export class WorkerLiveness {
  private readonly words: Int32Array;

  constructor(buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer);
  }

  /** Before an onnxruntime call. Throws once the supervisor has condemned this worker. */
  enter(): void {
    for (;;) {
      const n = Atomics.load(this.words, CALLS);
      if (n === CONDEMNED) throw new XalmaError('ENGINE_RESTARTED', 'this engine worker is being replaced');
      if (Atomics.compareExchange(this.words, CALLS, n, n + 1) === n) return;
    }
  }

  /** After the call settled (never runs while condemned: condemning needs a count of 0). */
  leave(): void {
    Atomics.sub(this.words, CALLS, 1);
    Atomics.add(this.words, CALLS_ENDED, 1);
  }

  ack(seq: number): void {
    Atomics.store(this.words, PING_ACK, seq);
  }

  /** Tests and drills: blocks this thread (its message loop included) until the supervisor releases it. */
  blockUntilReleased(): void {
    while (Atomics.load(this.words, FAULT_GATE) === 0) Atomics.wait(this.words, FAULT_GATE, 0);
  }
}

/** What the watchdog reads about the worker's onnxruntime calls. */
export interface OrtActivity {
  /** Calls in flight now (CONDEMNED shows as -1). */
  inFlight: number;
  /** Changes whenever a call ends. */
  ended: number;
}

/** The supervisor's side. */
export class SupervisorLiveness {
  private readonly words: Int32Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer);
  }

  activity(): OrtActivity {
    return { inFlight: Atomics.load(this.words, CALLS), ended: Atomics.load(this.words, CALLS_ENDED) };
  }

  acked(): number {
    return Atomics.load(this.words, PING_ACK);
  }

  /** true: no onnxruntime call is in flight and none can start; the worker may be terminated. */
  condemn(): boolean {
    return this.condemned() || Atomics.compareExchange(this.words, CALLS, 0, CONDEMNED) === 0;
  }

  condemned(): boolean {
    return Atomics.load(this.words, CALLS) === CONDEMNED;
  }

  /** Arms the gate a blocking fault waits on (before the fault is sent). */
  holdFaults(): void {
    Atomics.store(this.words, FAULT_GATE, 0);
  }

  releaseFaults(): void {
    Atomics.store(this.words, FAULT_GATE, 1);
    Atomics.notify(this.words, FAULT_GATE);
  }
}
