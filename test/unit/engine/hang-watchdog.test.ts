/**
 * The hang verdict (src/engine/hang-watchdog.ts) over real shared memory, the worker's side
 * played in this thread (worker-liveness.ts: both sides are views of one SharedArrayBuffer).
 * The clock is fake and `check` is called by hand: no timer decides anything here.
 */
import { describe, expect, it } from 'vitest';
import { HangWatchdog } from '../../../src/engine/hang-watchdog.ts';
import { SupervisorLiveness, WorkerLiveness, createLivenessBuffer } from '../../../src/engine/worker-liveness.ts';

const TIMEOUT = 1_000;

function setup() {
  const buffer = createLivenessBuffer();
  const worker = new WorkerLiveness(buffer);
  const supervisor = new SupervisorLiveness(buffer);
  let t = 0;
  const pings: number[] = [];
  const verdicts: number[] = [];
  const dog = new HangWatchdog({
    liveness: supervisor,
    ping: (seq) => pings.push(seq),
    onHung: (silentMs) => verdicts.push(silentMs),
    hangTimeoutMs: TIMEOUT,
    checkIntervalMs: 1e9, // the timer never fires during a test: checks are explicit
    now: () => t,
  });
  dog.start();
  const answer = () => worker.ack(pings.at(-1)!);
  return { worker, supervisor, dog, pings, verdicts, answer, advance: (ms: number) => void (t += ms) };
}

describe('HangWatchdog', () => {
  it('condemns a worker whose ping waited the whole timeout with no onnxruntime call', () => {
    const { worker, dog, verdicts, advance } = setup();
    advance(TIMEOUT - 1);
    dog.check();
    expect(verdicts).toEqual([]);
    advance(1);
    dog.check();
    expect(verdicts).toEqual([TIMEOUT]);
    // Condemned: the worker can start no onnxruntime call any more.
    expect(() => worker.enter()).toThrow(expect.objectContaining({ code: 'ENGINE_RESTARTED' }));
    dog.check();
    expect(verdicts).toHaveLength(1); // one verdict, then the watchdog is stopped
    dog.stop();
  });

  it('an answered ping is no hang, however long the supervisor itself was away', () => {
    const { dog, pings, verdicts, answer, advance } = setup();
    answer();
    advance(100 * TIMEOUT); // e.g. the supervisor's event loop stalled: the answer is in shared memory
    dog.check();
    expect(verdicts).toEqual([]);
    expect(pings).toEqual([1, 2]); // the next ping went out, its clock starting now
    advance(TIMEOUT - 1);
    dog.check();
    expect(verdicts).toEqual([]);
    dog.stop();
  });

  it('a call in flight is never a hang, and the timeout counts again from the end of the last call', () => {
    const { worker, supervisor, dog, verdicts, advance } = setup();
    worker.enter();
    for (let i = 0; i < 20; i++) {
      advance(TIMEOUT);
      dog.check();
    }
    expect(verdicts).toEqual([]);
    expect(supervisor.condemned()).toBe(false);
    worker.leave();
    advance(TIMEOUT); // the call ended somewhere in this span: the worker gets a whole timeout after it
    dog.check();
    expect(verdicts).toEqual([]);
    advance(TIMEOUT - 1);
    dog.check();
    expect(verdicts).toEqual([]);
    advance(1);
    dog.check();
    expect(verdicts).toHaveLength(1);
  });

  it('a call that started and ended between two looks also counts as life', () => {
    const { worker, dog, verdicts, advance } = setup();
    advance(TIMEOUT - 1);
    worker.enter();
    worker.leave();
    advance(1);
    dog.check();
    expect(verdicts).toEqual([]);
    dog.stop();
  });
});
