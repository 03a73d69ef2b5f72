import { describe, expect, it } from 'vitest';
import { RestartBudget } from '../../../src/engine/restart-budget.ts';

describe('RestartBudget', () => {
  it('allows at most `max` restarts in any window, counting only restarts still inside it', () => {
    const budget = new RestartBudget(3, 1_000);
    expect([0, 10, 20].map((t) => budget.take(t))).toEqual([true, true, true]);
    expect(budget.take(999)).toBe(false); // 4th within 1 s of the 1st
    expect(budget.take(1_000)).toBe(true); // the 1st left the window
    expect(budget.take(1_005)).toBe(false); // 10, 20, 1000 still in it
    expect(budget.take(1_010)).toBe(true);
  });

  it('a refused restart is not counted', () => {
    const budget = new RestartBudget(1, 1_000);
    expect(budget.take(0)).toBe(true);
    expect(budget.take(500)).toBe(false);
    expect(budget.take(1_000)).toBe(true); // the refusal at 500 did not extend the window
  });

  it('a budget of 0 refuses every restart', () => {
    expect(new RestartBudget(0, 1_000).take(0)).toBe(false);
  });
});
