/**
 * The KV cache: for every layer a key and a value buffer [rows, kvHeads, capacity, headDim],
 * one slot per running row (rows occupy slots 0..n-1), each row's positions 0..len-1 valid
 * (right-padded). A step reads the cache as a view (onnxruntime-node feeds a typed array
 * without copying it) and hands back only its new keys and values, which `write` puts at each
 * row's length: nothing of the past is copied per step in JavaScript. (onnxruntime's
 * GroupQueryAttention could also write in place, past and present being one buffer, but
 * onnxruntime-node copies every fetched output into a new ArrayBuffer: that was O(capacity) per
 * step and measured slower, graph-builder.ts.)
 *
 * Copies happen only at events: growing the buffers (doubling, so O(log) times per busy
 * period), and moving a row into a freed slot when a row leaves or a beam forks (one row's
 * valid positions).
 */
export interface KvShape {
  layers: number;
  kvHeads: number;
  headDim: number;
}

export class KvCache {
  /** 2 per layer: key, value. */
  private buffers: Float32Array[] = [];
  private rowCap = 0;
  private seqCap = 0;

  /** `maxSeq`: the model's context; capacity never grows past it. */
  constructor(readonly shape: KvShape, private readonly maxSeq: number) {}

  get capacity(): number {
    return this.seqCap;
  }

  /**
   * Makes room for `rows` slots of `seq` positions; keeps the first `lens.length` rows' valid
   * positions (lens[r] each). Grows by doubling, never shrinks (see release).
   */
  ensure(rows: number, seq: number, lens: ArrayLike<number>): void {
    if (rows <= this.rowCap && seq <= this.seqCap) return;
    const rowCap = rows <= this.rowCap ? this.rowCap : Math.max(rows, 2 * this.rowCap);
    const seqCap = seq <= this.seqCap ? this.seqCap : Math.min(this.maxSeq, Math.max(seq, 2 * this.seqCap));
    const { layers, kvHeads, headDim } = this.shape;
    const next = Array.from({ length: 2 * layers }, () => new Float32Array(rowCap * kvHeads * seqCap * headDim));
    for (let b = 0; b < this.buffers.length; b++) {
      const src = this.buffers[b];
      const dst = next[b];
      for (let r = 0; r < lens.length; r++) {
        for (let h = 0; h < kvHeads; h++) {
          const from = (r * kvHeads + h) * this.seqCap * headDim;
          const to = (r * kvHeads + h) * seqCap * headDim;
          dst.set(src.subarray(from, from + lens[r] * headDim), to);
        }
      }
    }
    this.buffers = next;
    this.rowCap = rowCap;
    this.seqCap = seqCap;
  }

  /** Drops the buffers (nothing is running). */
  release(): void {
    this.buffers = [];
    this.rowCap = 0;
    this.seqCap = 0;
  }

  /** Slots first..first+rows-1 of one buffer: [rows, kvHeads, capacity, headDim]. */
  view(layer: number, which: 'key' | 'value', first: number, rows: number): Float32Array {
    const per = this.shape.kvHeads * this.seqCap * this.shape.headDim;
    return this.buffers[2 * layer + (which === 'key' ? 0 : 1)].subarray(first * per, (first + rows) * per);
  }

  /** Copies the first `len` positions of slot `from` into slot `to`. */
  copyRow(from: number, to: number, len: number): void {
    if (from === to) return;
    const { kvHeads, headDim } = this.shape;
    for (const buf of this.buffers) {
      for (let h = 0; h < kvHeads; h++) {
        const src = (from * kvHeads + h) * this.seqCap * headDim;
        const dst = (to * kvHeads + h) * this.seqCap * headDim;
        buf.copyWithin(dst, src, src + len * headDim);
      }
    }
  }

  /** The first `len` positions of `slot`, every buffer: what a prefix cache keeps (a copy). */
  readRow(slot: number, len: number): Float32Array[] {
    const { kvHeads, headDim } = this.shape;
    return this.buffers.map((buf) => {
      const out = new Float32Array(kvHeads * len * headDim);
      for (let h = 0; h < kvHeads; h++) {
        const src = (slot * kvHeads + h) * this.seqCap * headDim;
        out.set(buf.subarray(src, src + len * headDim), h * len * headDim);
      }
      return out;
    });
  }

  /** Puts what `readRow` returned (`len` positions) at the start of `slot`. */
  writeRow(slot: number, rows: Float32Array[], len: number): void {
    const { kvHeads, headDim } = this.shape;
    this.buffers.forEach((buf, b) => {
      for (let h = 0; h < kvHeads; h++) buf.set(rows[b].subarray(h * len * headDim, (h + 1) * len * headDim), (slot * kvHeads + h) * this.seqCap * headDim);
    });
  }

  /**
   * 'append' layout: writes new keys/values [rows, kvHeads, seqLen, headDim] of one layer into
   * slots first.. at each row's past length, `counts[r]` positions each.
   */
  write(layer: number, which: 'key' | 'value', first: number, fresh: Float32Array, seqLen: number, pastLens: ArrayLike<number>, counts: ArrayLike<number>): void {
    const { kvHeads, headDim } = this.shape;
    const buf = this.buffers[2 * layer + (which === 'key' ? 0 : 1)];
    for (let r = 0; r < counts.length; r++) {
      for (let h = 0; h < kvHeads; h++) {
        const src = (r * kvHeads + h) * seqLen * headDim;
        const dst = ((first + r) * kvHeads + h) * this.seqCap * headDim + pastLens[r] * headDim;
        buf.set(fresh.subarray(src, src + counts[r] * headDim), dst);
      }
    }
  }
}
