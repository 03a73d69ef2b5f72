import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isXalmaError } from '../../../src/errors.ts';
import { Scheduler } from '../../../src/scheduler/scheduler.ts';
import type { SchedulerOptions } from '../../../src/scheduler/types.ts';
import { FakeRunner, item } from './fake-runner.ts';

function make(over: Partial<SchedulerOptions> = {}, clock?: { t: number }) {
  return new Scheduler({
    mixesGroups: false,
    maxBatchSize: 4,
    maxWaitMs: 0,
    groupAgeBoundMs: 200,
    maxQueue: 100,
    ...(clock ? { now: () => clock.t } : {}),
    ...over,
  });
}

const codeOf = async (p: Promise<unknown>) => p.then(() => 'ok', (e) => (isXalmaError(e) ? e.code : String(e)));

describe('Scheduler.schedule', () => {
  it('in all mode forms oldest-first batches that mix groups', () => {
    const clock = { t: 0 };
    const s = make({ mixesGroups: true }, clock);
    for (const g of [1, 2, 3, 1, 2, 3]) {
      clock.t++;
      void s.add({ requestId: `r${clock.t}`, item: item(g) });
    }
    const b = s.schedule()!;
    expect(b.entries.map((e) => e.item.group)).toEqual([1, 2, 3, 1]);
    expect(b.group).toBeNull();
  });

  it('in single mode a batch holds one group, and it keeps the active group to avoid module switches', () => {
    const clock = { t: 0 };
    const s = make({}, clock);
    const groups = [1, 2, 1, 2, 1, 2, 1, 2, 1, 2];
    groups.forEach((g, i) => void s.add({ requestId: `r${i}`, item: item(g) }));
    const first = s.schedule()!;
    expect(first.group).toBe(1);
    expect(first.entries.every((e) => e.item.group === 1)).toBe(true);
    s.update(first, first.entries.map(() => ({ text: '', promptTokens: 1, outputTokens: 1, finishReason: 'eos' as const })));
    void s.add({ requestId: 'late', item: item(1) });
    clock.t += 50; // under the age bound: stay on group 1 although group 2 is older
    const second = s.schedule()!;
    expect(second.group).toBe(1);
    expect(second.entries).toHaveLength(2);
  });

  it('bounds starvation: a waiting group is served once its oldest row passes the age bound', () => {
    const clock = { t: 0 };
    const s = make({ groupAgeBoundMs: 200 }, clock);
    void s.add({ requestId: 'starving', item: item(2) });
    void s.add({ requestId: 'first', item: item(1) });
    // group 1 is made active, then keeps receiving work
    let batch = s.schedule()!;
    expect(batch.group).toBe(2); // oldest first when nothing is active
    s.update(batch, batch.entries.map(() => ({ text: '', promptTokens: 1, outputTokens: 1, finishReason: 'eos' as const })));
    batch = s.schedule()!;
    expect(batch.group).toBe(1);
    void s.add({ requestId: 'waiting-2', item: item(2) });
    const servedAt: number[] = [];
    for (let step = 0; step < 20; step++) {
      s.update(batch, batch.entries.map(() => ({ text: '', promptTokens: 1, outputTokens: 1, finishReason: 'eos' as const })));
      clock.t += 30;
      void s.add({ requestId: `g1-${step}`, item: item(1) });
      batch = s.schedule()!;
      if (batch.group === 2) {
        servedAt.push(clock.t);
        break;
      }
    }
    expect(servedAt).toHaveLength(1);
    expect(servedAt[0]).toBeLessThanOrEqual(200 + 30);
  });

  it('fails rows whose deadline passed instead of sending them to the engine', async () => {
    const clock = { t: 1000 };
    const s = make({}, clock);
    const late = s.add({ requestId: 'late', item: item(1), deadlineAt: 1001 });
    const fine = s.add({ requestId: 'fine', item: item(1), deadlineAt: 5000 });
    clock.t = 2000;
    const b = s.schedule()!;
    expect(b.entries.map((e) => e.requestId)).toEqual(['fine']);
    expect(await codeOf(late)).toBe('DEADLINE_EXCEEDED');
    s.update(b, [{ text: 'x', promptTokens: 1, outputTokens: 1, finishReason: 'eos' }]);
    expect(await fine).toMatchObject({ text: 'x' });
  });

  it('puts a pivot continuation by its original age, ahead of newer rows', () => {
    const clock = { t: 0 };
    const s = make({ maxBatchSize: 1 }, clock);
    clock.t = 10;
    void s.add({ requestId: 'new', item: item(3) });
    void s.add({ requestId: 'hop2', item: item(3), continuationOf: { enqueuedAt: 5 } });
    expect(s.schedule()!.entries[0].requestId).toBe('hop2');
  });
});

describe('Scheduler admission and aborts', () => {
  it('refuses synchronously with QUEUE_FULL at the bound, but admits pivot continuations', () => {
    const s = make({ maxQueue: 2 });
    void s.add({ requestId: 'a', item: item(1) });
    void s.add({ requestId: 'b', item: item(1) });
    expect(s.room()).toBe(0);
    expect(() => s.add({ requestId: 'c', item: item(1) })).toThrow(expect.objectContaining({ code: 'QUEUE_FULL' }));
    expect(() => s.add({ requestId: 'a', item: item(4), continuationOf: { enqueuedAt: 0 } })).not.toThrow();
  });

  it('aborting a queued request frees its queue room and keeps it out of the next batch', async () => {
    const s = make({ maxQueue: 3 });
    const gone = s.add({ requestId: 'gone', item: item(1) });
    const gone2 = s.add({ requestId: 'gone', item: item(1) });
    void s.add({ requestId: 'stay', item: item(1) });
    expect(s.abort(['gone'])).toBe(2);
    expect(await codeOf(gone)).toBe('REQUEST_ABORTED');
    expect(await codeOf(gone2)).toBe('REQUEST_ABORTED');
    expect(s.depth).toBe(1);
    expect(s.room()).toBe(2);
    expect(s.schedule()!.entries.map((e) => e.requestId)).toEqual(['stay']);
  });

  it('aborting a running row signals the engine and answers the caller at once', async () => {
    const s = make();
    const p = s.add({ requestId: 'r', item: item(1) });
    const b = s.schedule()!;
    expect(b.entries[0].item.signal!.aborted).toBe(false);
    s.abort(['r']);
    expect(b.entries[0].item.signal!.aborted).toBe(true);
    expect(await codeOf(p)).toBe('REQUEST_ABORTED');
    const report = s.update(b, [{ text: '', promptTokens: 1, outputTokens: 0, finishReason: 'aborted' }]);
    expect(report.aborted).toBe(1);
  });
});

/**
 * The run loop sleeps on setTimeout and reads the scheduler's injected clock. Both run on vitest's
 * fake timers here, advanced 1 ms at a time by `drive`, so a batch's shape depends on the order
 * of arrivals and engine steps, never on how busy the machine is.
 */
describe('Scheduler run loop', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A scheduler whose clock is the fake clock that also drives its sleeps. */
  const makeLoop = (over: Partial<SchedulerOptions>) => make({ now: () => Date.now(), ...over });

  /** Advances fake time 1 ms at a time until `work` settles; returns its result and the fake ms it took. */
  async function drive<T>(work: Promise<T>, limitMs = 60_000): Promise<{ value: T; ms: number }> {
    const t0 = Date.now();
    let done = false;
    const settled = work.finally(() => (done = true));
    settled.catch(() => {});
    await vi.advanceTimersByTimeAsync(0);
    while (!done) {
      if (Date.now() - t0 > limitMs) throw new Error(`still pending after ${limitMs} fake ms`);
      await vi.advanceTimersByTimeAsync(1);
    }
    return { value: await settled, ms: Date.now() - t0 };
  }

  it('serves a burst of 40 rows in few batches of at most maxBatchSize', async () => {
    const runner = new FakeRunner(2, 3);
    const s = makeLoop({ mixesGroups: true, maxBatchSize: 16, maxWaitMs: 5 });
    s.start(runner);
    const all = Array.from({ length: 40 }, (_, i) => s.add({ requestId: `r${i}`, item: item((i % 8) + 1, `x${i}`) }));
    const { value: outs } = await drive(Promise.all(all));
    expect(outs.map((o) => o.text)).toEqual(Array.from({ length: 40 }, (_, i) => `[${(i % 8) + 1}] x${i}`));
    expect(runner.batches.map((b) => b.length)).toEqual([16, 16, 8]);
    await drive(s.stop());
  });

  it('closed-loop clients: the fill window opens when the engine frees up, so batches stay full', async () => {
    // 12 clients, batch cap 8: 4 rows wait through the first batch. When it ends, its 8
    // clients send their next request over the following 14 ms (as HTTP clients do). A window
    // counted from the 4 old rows' arrival has long expired and would send a batch of 4; one
    // counted from the engine becoming free fills the batch.
    const runner = new FakeRunner(20, 2);
    const s = makeLoop({ mixesGroups: true, maxBatchSize: 8, maxWaitMs: 30 });
    s.start(runner);
    const client = async (k: number) => {
      for (let round = 0; round < 2; round++) {
        await s.add({ requestId: `c${k}r${round}`, item: item(1, `c${k}`) });
        await new Promise((r) => setTimeout(r, 2 * (k % 8)));
      }
    };
    await drive(Promise.all(Array.from({ length: 12 }, (_, k) => client(k))));
    expect(runner.batches.map((b) => b.length)).toEqual([8, 8, 8]);
    await drive(s.stop());
  });

  it('rows that arrive while the engine runs are sent at once, to join its batch at the next step', async () => {
    // 24 rows, one every 1 ms, on an engine that takes 10 ms per call. The first runs at once (a
    // lone row on a quiet server); every later one arrives while rows run and is sent at its
    // arrival: none waits for an engine call to end (the engine batches them continuously).
    const runner = new FakeRunner(5, 2);
    const s = makeLoop({ mixesGroups: true, maxBatchSize: 32, maxWaitMs: 10 });
    s.start(runner);
    const t0 = Date.now();
    const arrivals = (async () => {
      const all: Array<Promise<unknown>> = [];
      for (let i = 0; i < 24; i++) {
        all.push(s.add({ requestId: `b${i}`, item: item(1, `b${i}`) }));
        await new Promise((r) => setTimeout(r, 1));
      }
      return Promise.all(all);
    })();
    await drive(arrivals);
    expect(runner.batches.flat().map((i) => i.text)).toEqual(Array.from({ length: 24 }, (_, i) => `b${i}`));
    expect(runner.sentAt.map((t) => t - t0)).toEqual(runner.batches.map((b) => Number(b[0].text.slice(1))));
    await drive(s.stop());
  });

  it('never has more than maxBatchSize rows in the engine', async () => {
    const runner = new FakeRunner(3, 2);
    const s = makeLoop({ mixesGroups: true, maxBatchSize: 4, maxWaitMs: 1 });
    s.start(runner);
    await drive(Promise.all(Array.from({ length: 20 }, (_, i) => s.add({ requestId: `p${i}`, item: item(1) }))));
    const peak = runner.peakRows;
    expect(peak).toBe(4);
    await drive(s.stop());
  });

  it('a lone request on a quiet server is sent at once, without waiting for the fill window', async () => {
    const runner = new FakeRunner(1, 1); // the engine takes 1 ms per batch
    const s = makeLoop({ mixesGroups: true, maxBatchSize: 32, maxWaitMs: 200 });
    s.start(runner);
    for (let i = 0; i < 3; i++) {
      const { ms } = await drive(s.add({ requestId: `solo${i}`, item: item(1) }));
      expect(ms).toBe(1); // the engine's 1 ms and nothing else; a fill window would add 200
    }
    expect(runner.batches.map((b) => b.length)).toEqual([1, 1, 1]);
    await drive(s.stop());
  });

  it('in single mode never mixes groups in one engine call', async () => {
    const runner = new FakeRunner(1, 2);
    const s = makeLoop({ maxBatchSize: 8, maxWaitMs: 2 });
    s.start(runner);
    await drive(Promise.all(Array.from({ length: 30 }, (_, i) => s.add({ requestId: `r${i}`, item: item((i % 3) + 1) }))));
    for (const b of runner.batches) expect(new Set(b.map((i) => i.group)).size).toBe(1);
    await drive(s.stop());
  });

  it('fails only the rows of a failing module', async () => {
    const runner = new FakeRunner();
    runner.failGroups.add(2);
    const s = makeLoop({ mixesGroups: true, maxWaitMs: 2 });
    s.start(runner);
    const codes = Promise.all([codeOf(s.add({ requestId: 'a', item: item(1) })), codeOf(s.add({ requestId: 'b', item: item(2) }))]);
    expect((await drive(codes)).value).toEqual(['ok', 'MODULE_UNAVAILABLE']);
    await drive(s.stop());
  });

  it('stop fails queued rows with SHUTTING_DOWN and refuses new ones', async () => {
    const runner = new FakeRunner(20, 5);
    const s = makeLoop({ maxBatchSize: 1 });
    s.start(runner);
    const rows = Array.from({ length: 3 }, (_, i) => codeOf(s.add({ requestId: `r${i}`, item: item(1) })));
    await vi.advanceTimersByTimeAsync(5); // the first row is 5 ms into its 100 ms batch
    expect(s.inFlight).toBe(1);
    await drive(s.stop());
    const codes = await Promise.all(rows);
    expect(codes).toEqual(['SHUTTING_DOWN', 'SHUTTING_DOWN', 'SHUTTING_DOWN']);
    expect(() => s.add({ requestId: 'x', item: item(1) })).toThrow(expect.objectContaining({ code: 'SHUTTING_DOWN' }));
  });

  it('idle() resolves once every admitted row is answered', async () => {
    const runner = new FakeRunner(1, 1);
    const s = makeLoop({ mixesGroups: true });
    s.start(runner);
    const rows = Array.from({ length: 10 }, (_, i) => s.add({ requestId: `r${i}`, item: item(1) }));
    await drive(s.idle());
    expect(s.depth + s.inFlight).toBe(0);
    await Promise.all(rows);
    await drive(s.stop());
  });
});
