/**
 * Drives a StepFn by hand for one row, the way the step loop does (generate.ts): a prefill of
 * the prompt into slot 0 of its own KV cache, then one decode step per fed token.
 */
import { type GenerateConfig, type StepFn } from '../../src/engine/generate.ts';
import { KvCache } from '../../src/engine/kv-cache.ts';

export function oneRow(step: StepFn, cfg: GenerateConfig, group: number) {
  const kv = new KvCache(cfg, cfg.maxPositions);
  let len = 0;
  return {
    /** Last-position logits of the prompt. */
    async prefill(ids: number[]): Promise<Float32Array> {
      kv.ensure(1, cfg.maxPositions, []);
      const { logits } = await step({
        rows: 1, seqLen: ids.length, firstSlot: 0, kv, modules: Int32Array.of(group),
        inputIds: BigInt64Array.from(ids, BigInt), positionIds: BigInt64Array.from(ids, (_, i) => BigInt(i)),
        pastLens: Int32Array.of(0), newLens: Int32Array.of(ids.length), logitsIndex: BigInt64Array.of(BigInt(ids.length - 1)),
      });
      len = ids.length;
      return logits;
    },
    /** Logits after feeding one more token. */
    async decode(token: number): Promise<Float32Array> {
      const { logits } = await step({
        rows: 1, seqLen: 1, firstSlot: 0, kv, modules: Int32Array.of(group),
        inputIds: BigInt64Array.of(BigInt(token)), positionIds: BigInt64Array.of(BigInt(len)),
        pastLens: Int32Array.of(len), newLens: Int32Array.of(1), logitsIndex: BigInt64Array.of(0n),
      });
      len++;
      return logits;
    },
  };
}
