/**
 * Per-group FIFO queues of entries, ordered by age. An array plus a head index per group
 * (STYLE: hot paths); aborted entries are skipped lazily when they reach the head, so
 * `abort` is O(1) and the array is compacted once the dead prefix is large.
 */
import type { Entry } from './types.ts';

interface Lane {
  items: Entry[];
  head: number;
}

/** Compact once this many dead slots lead the array and they are over half of it. */
const COMPACT_AT = 64;

export class GroupQueues {
  private readonly lanes = new Map<number, Lane>();

  /** Appends in age order; an entry older than the tail (a pivot continuation) is inserted in place. */
  push(entry: Entry): void {
    const group = entry.item.group;
    let lane = this.lanes.get(group);
    if (!lane) {
      lane = { items: [], head: 0 };
      this.lanes.set(group, lane);
    }
    const { items } = lane;
    const last = items[items.length - 1];
    if (!last || last.enqueuedAt <= entry.enqueuedAt) {
      items.push(entry);
      return;
    }
    let lo = lane.head;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (items[mid].enqueuedAt <= entry.enqueuedAt) lo = mid + 1;
      else hi = mid;
    }
    items.splice(lo, 0, entry);
  }

  /** The oldest still-queued entry of a group (dead heads are dropped on the way). */
  peek(group: number): Entry | undefined {
    const lane = this.lanes.get(group);
    if (!lane) return undefined;
    while (lane.head < lane.items.length && lane.items[lane.head].state !== 'queued') lane.head++;
    if (lane.head >= COMPACT_AT && lane.head * 2 >= lane.items.length) {
      lane.items = lane.items.slice(lane.head);
      lane.head = 0;
    }
    return lane.items[lane.head];
  }

  /** Removes and returns the oldest queued entry of a group. */
  shift(group: number): Entry | undefined {
    const entry = this.peek(group);
    if (entry) this.lanes.get(group)!.head++;
    return entry;
  }

  /** Oldest queued entry of every group that has work. */
  heads(): Entry[] {
    const out: Entry[] = [];
    for (const group of this.lanes.keys()) {
      const e = this.peek(group);
      if (e) out.push(e);
    }
    return out;
  }
}
