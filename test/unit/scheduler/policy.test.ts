import { describe, expect, it } from 'vitest';
import { pickGroup } from '../../../src/scheduler/policy.ts';

describe('pickGroup (single/merged group order)', () => {
  it('returns null when nothing is queued', () => {
    expect(pickGroup([], 3, 1000, 200)).toBeNull();
  });

  it('stays on the active group while it has work and nobody is older than the age bound', () => {
    const heads = [{ group: 1, oldestAt: 900 }, { group: 2, oldestAt: 950 }];
    expect(pickGroup(heads, 2, 1000, 200)).toBe(2);
  });

  it('switches to the group of the oldest row once that row passes the age bound', () => {
    const heads = [{ group: 1, oldestAt: 700 }, { group: 2, oldestAt: 950 }];
    expect(pickGroup(heads, 2, 1000, 200)).toBe(1);
  });

  it('picks the oldest group when the active group has run dry', () => {
    const heads = [{ group: 5, oldestAt: 990 }, { group: 4, oldestAt: 980 }];
    expect(pickGroup(heads, 2, 1000, 200)).toBe(4);
  });

  it('with an age bound of 0 it is plain oldest-first', () => {
    const heads = [{ group: 1, oldestAt: 999 }, { group: 2, oldestAt: 998 }];
    expect(pickGroup(heads, 1, 1000, 0)).toBe(2);
  });
});
