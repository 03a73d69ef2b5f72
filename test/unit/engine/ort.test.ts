/**
 * src/engine/ort.ts brackets every onnxruntime call with the installed guard, from the call until
 * its promise settles: the engine worker's count of calls in flight (worker-liveness.ts) relies
 * on it to never be terminated inside one. Played in this thread with a recording guard.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createSession, floatTensor, guardOrtCalls, type OrtCallGuard } from '../../../src/engine/ort.ts';
import { buildLinearMergeGraph } from '../../../src/model/merge-graph.ts';

function countingGuard() {
  const g = { depth: 0, entered: 0, refuse: false };
  const guard: OrtCallGuard = {
    enter() {
      if (g.refuse) throw new Error('condemned');
      g.depth++;
      g.entered++;
    },
    leave() {
      g.depth--;
    },
  };
  guardOrtCalls(guard);
  return g;
}

const feeds = () => ({ W: floatTensor(new Float32Array(4), [2, 2]), A: floatTensor(new Float32Array(2), [1, 2]), B: floatTensor(new Float32Array(2), [2, 1]) });

afterEach(() => guardOrtCalls(null));

describe('the onnxruntime call guard', () => {
  it('counts session creation, every run (while it waits for its turn too) and release', async () => {
    const g = countingGuard();
    const creating = createSession(buildLinearMergeGraph(1), { provider: 'cpu' });
    expect(g.depth).toBe(1);
    const session = await creating;
    expect(g).toMatchObject({ depth: 0, entered: 1 });

    const running = session.run(feeds());
    expect(g.depth).toBe(1); // before onnxruntime's own setImmediate turn: already counted
    await running;
    expect(g).toMatchObject({ depth: 0, entered: 2 });

    await session.release();
    expect(g).toMatchObject({ depth: 0, entered: 3 });
  });

  it('a guard that refuses keeps every call from reaching onnxruntime', async () => {
    const g = countingGuard();
    const session = await createSession(buildLinearMergeGraph(1), { provider: 'cpu' });
    g.refuse = true;
    await expect(session.run(feeds())).rejects.toThrow('condemned');
    await expect(createSession(buildLinearMergeGraph(1), { provider: 'cpu' })).rejects.toThrow('condemned');
    await expect(session.release()).rejects.toThrow('condemned');
    g.refuse = false;
    await session.release();
    expect(g.depth).toBe(0);
  });
});
