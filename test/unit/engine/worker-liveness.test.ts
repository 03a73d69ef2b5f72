/**
 * The one rule that keeps a terminate from aborting the process (src/engine/worker-liveness.ts):
 * a worker can be condemned only with no onnxruntime call in flight, and a condemned worker
 * can start none.
 */
import { describe, expect, it } from 'vitest';
import { SupervisorLiveness, WorkerLiveness, createLivenessBuffer } from '../../../src/engine/worker-liveness.ts';

function pair() {
  const buffer = createLivenessBuffer();
  return { worker: new WorkerLiveness(buffer), supervisor: new SupervisorLiveness(buffer) };
}

describe('worker liveness', () => {
  it('condemning fails while any call is in flight and succeeds once the last one ended', () => {
    const { worker, supervisor } = pair();
    worker.enter();
    worker.enter();
    expect(supervisor.condemn()).toBe(false);
    worker.leave();
    expect(supervisor.condemn()).toBe(false);
    worker.leave();
    expect(supervisor.condemn()).toBe(true);
    expect(supervisor.condemned()).toBe(true);
    expect(supervisor.condemn()).toBe(true); // idempotent
  });

  it('a condemned worker cannot start a call', () => {
    const { worker, supervisor } = pair();
    expect(supervisor.condemn()).toBe(true);
    expect(() => worker.enter()).toThrow(expect.objectContaining({ code: 'ENGINE_RESTARTED' }));
    expect(supervisor.activity().inFlight).toBe(-1);
  });

  it('counts calls that ended, and carries ping acknowledgements', () => {
    const { worker, supervisor } = pair();
    const before = supervisor.activity().ended;
    worker.enter();
    expect(supervisor.activity()).toEqual({ inFlight: 1, ended: before });
    worker.leave();
    expect(supervisor.activity()).toEqual({ inFlight: 0, ended: before + 1 });
    worker.ack(7);
    expect(supervisor.acked()).toBe(7);
  });
});
