/**
 * Which group runs next in `single` and `merged` modes, where a batch holds one group and a
 * group switch costs a module activation (or a load). Policy, as LoRAX bounds adapter
 * starvation: keep serving the active group while it has work and nobody has waited past
 * the age bound; otherwise serve the group whose head is the oldest row in the queue.
 * This makes the longest wait ~ ageBound + one batch, and switches only when age forces it
 * or the active group runs dry.
 */
export interface GroupHead {
  group: number;
  /** enqueue time (ms) of the group's oldest queued row */
  oldestAt: number;
}

export function pickGroup(heads: readonly GroupHead[], active: number | null, now: number, ageBoundMs: number): number | null {
  if (heads.length === 0) return null;
  let oldest = heads[0];
  let activeHasWork = false;
  for (const h of heads) {
    if (h.oldestAt < oldest.oldestAt || (h.oldestAt === oldest.oldestAt && h.group === active)) oldest = h;
    if (h.group === active) activeHasWork = true;
  }
  if (activeHasWork && now - oldest.oldestAt < ageBoundMs) return active;
  return oldest.group;
}
