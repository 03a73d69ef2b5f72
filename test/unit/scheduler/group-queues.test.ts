/**
 * Per-group FIFO queues (src/scheduler/group-queues.ts): age order within a group, pivot
 * continuations placed by their original age, and lazy removal of entries that left the
 * queue (aborted, failed) including after the array is compacted.
 */
import { describe, expect, it } from 'vitest';
import { GroupQueues } from '../../../src/scheduler/group-queues.ts';
import type { Entry } from '../../../src/scheduler/types.ts';
import { item } from './fake-runner.ts';

let seq = 0;
function entry(group: number, enqueuedAt: number, id = `e${++seq}`): Entry {
  return { seq: ++seq, requestId: id, item: item(group), enqueuedAt, deadlineAt: Infinity, state: 'queued', controller: new AbortController(), settle: () => {} };
}

/** Shifts a group dry, returning the request ids in the order they came out. */
function drain(q: GroupQueues, group: number): string[] {
  const out: string[] = [];
  for (let e = q.shift(group); e; e = q.shift(group)) out.push(e.requestId);
  return out;
}

describe('GroupQueues', () => {
  it('serves each group oldest first, independently of the other groups', () => {
    const q = new GroupQueues();
    q.push(entry(1, 1, 'a'));
    q.push(entry(2, 2, 'b'));
    q.push(entry(1, 3, 'c'));
    q.push(entry(2, 4, 'd'));
    q.push(entry(1, 5, 'e'));
    expect(drain(q, 2)).toEqual(['b', 'd']);
    expect(drain(q, 1)).toEqual(['a', 'c', 'e']);
    expect(q.shift(1)).toBeUndefined();
    expect(q.shift(7)).toBeUndefined();
    expect(q.peek(7)).toBeUndefined();
  });

  it('heads() gives the oldest queued entry of every group that has work, and peek does not remove it', () => {
    const q = new GroupQueues();
    q.push(entry(3, 10, 'x'));
    q.push(entry(3, 11, 'y'));
    q.push(entry(5, 12, 'z'));
    expect(q.heads().map((e) => e.requestId).sort()).toEqual(['x', 'z']);
    expect(q.peek(3)!.requestId).toBe('x');
    expect(q.peek(3)!.requestId).toBe('x');
    q.shift(5);
    expect(q.heads().map((e) => e.requestId)).toEqual(['x']);
  });

  it('puts an entry older than the tail (a pivot continuation) by its age, after rows of the same age', () => {
    const q = new GroupQueues();
    q.push(entry(1, 10, 'a'));
    q.push(entry(1, 20, 'b'));
    q.push(entry(1, 30, 'c'));
    q.push(entry(1, 20, 'hop2')); // admitted at 20 with its first hop
    q.push(entry(1, 5, 'oldest'));
    expect(drain(q, 1)).toEqual(['oldest', 'a', 'b', 'hop2', 'c']);
  });

  it('a continuation older than everything left is served next, even after part of the lane was served', () => {
    const q = new GroupQueues();
    for (let t = 0; t < 10; t++) q.push(entry(1, 100 + t, `r${t}`));
    expect([q.shift(1), q.shift(1), q.shift(1)].map((e) => e!.requestId)).toEqual(['r0', 'r1', 'r2']);
    q.push(entry(1, 50, 'hop2'));
    expect(drain(q, 1)).toEqual(['hop2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9']);
  });

  it('skips entries that left the queue (aborted, failed) wherever they are', () => {
    const q = new GroupQueues();
    const es = ['a', 'b', 'c', 'd', 'e'].map((id, t) => entry(1, t, id));
    for (const e of es) q.push(e);
    es[0].state = 'aborted';
    es[2].state = 'failed';
    es[4].state = 'aborted';
    expect(q.peek(1)!.requestId).toBe('b');
    expect(q.heads().map((e) => e.requestId)).toEqual(['b']);
    expect(drain(q, 1)).toEqual(['b', 'd']);
    expect(q.heads()).toEqual([]);
  });

  it('keeps order and continuations right across compaction of a long dead prefix', () => {
    const q = new GroupQueues();
    const es = Array.from({ length: 300 }, (_, t) => entry(2, t, `r${t}`));
    for (const e of es) q.push(e);
    // 150 served and 50 aborted: the dead prefix passes the compaction threshold (64).
    for (let i = 0; i < 150; i++) expect(q.shift(2)!.requestId).toBe(`r${i}`);
    for (let t = 150; t < 200; t++) es[t].state = 'aborted';
    expect(q.peek(2)!.requestId).toBe('r200');
    q.push(entry(2, 205.5, 'hop2'));
    q.push(entry(2, 1000, 'late'));
    const expected = [...Array.from({ length: 6 }, (_, i) => `r${200 + i}`), 'hop2', ...Array.from({ length: 94 }, (_, i) => `r${206 + i}`), 'late'];
    expect(drain(q, 2)).toEqual(expected);
  });
});
