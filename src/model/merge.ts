/**
 * Merging a LoRA module into the base weights (the `merged` mode, DESIGN 1):
 *   W' = W + scale * (B @ A)^T   in the [in, out] layout of architecture.ts, i.e.
 *   W'[i][o] = W[i][o] + scale * sum_k A[k][i] * B[o][k],   A [r, in], B [out, r].
 *
 * Loop order: B is transposed once into Bt [r, out]; then for each row i of W and each k,
 * c = scale * A[k][i] is a scalar and the innermost loop is a contiguous axpy over out
 * (W'[i, :] += c * Bt[k, :]), four k at a time. On a [768 -> 2048] rank-16 target:
 * this 22 ms; one k per pass 51 ms; k innermost against B [out, r] 56 ms.
 *
 * Measured on this machine (2 cores, Node 20.20, one thread, all 7 targets of every layer,
 * median of repeated runs, bench script not kept):
 *   tiny model (hidden 64, 2 layers, intermediate 176, rank 8):              ~1 ms
 *   ~150M-param model (hidden 768, 12 layers, intermediate 2048, rank 16):   ~1.25 s
 *     (1.36 G multiply-adds at ~1.1 G/s plus copying the 85M linear weights)
 * Use mergeModuleAsync on a serving process so the event loop keeps answering.
 */
import { XalmaError } from '../errors.ts';
import { linearShape, tensorNames } from './architecture.ts';
import type { LlamaDims, LoraConfig, LoraTarget } from './architecture.ts';
import { shapeText, type F32Tensor } from './safetensors.ts';

type TensorMap = ReadonlyMap<string, F32Tensor>;

function expectTensor(map: TensorMap, name: string, shape: readonly number[], code: 'MODEL_SHAPE_MISMATCH' | 'MODULE_INVALID'): F32Tensor {
  const t = map.get(name);
  if (!t) throw new XalmaError(code, `merge: tensor ${name} is missing`, { tensor: name });
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]) || t.data.length !== shape.reduce((a, b) => a * b, 1)) {
    throw new XalmaError(code, `merge: tensor ${name} has shape ${shapeText(t.shape)}, expected ${shapeText(shape)}`, { tensor: name });
  }
  return t;
}

/** Scratch for B^T, grown once and reused across targets (largest is [r, intermediate]). */
class Scratch {
  private buf = new Float32Array(0);
  take(n: number): Float32Array {
    if (this.buf.length < n) this.buf = new Float32Array(n);
    return this.buf.subarray(0, n);
  }
}

/** W + scale * (B @ A)^T as a new array; W is not modified. */
function mergeOne(w: Float32Array, a: Float32Array, b: Float32Array, inDim: number, outDim: number, rank: number, scale: number, scratch: Scratch): Float32Array {
  const out = w.slice();
  const bt = scratch.take(rank * outDim);
  for (let o = 0; o < outDim; o++) {
    const row = o * rank;
    for (let k = 0; k < rank; k++) bt[k * outDim + o] = b[row + k];
  }
  for (let i = 0; i < inDim; i++) {
    const wRow = i * outDim;
    let k = 0;
    // Four rank steps per pass over the row: one load/store of W per four multiply-adds
    // (2.3x faster than one step per pass on a [768 -> 2048] rank-16 target).
    for (; k + 4 <= rank; k += 4) {
      const c0 = scale * a[k * inDim + i];
      const c1 = scale * a[(k + 1) * inDim + i];
      const c2 = scale * a[(k + 2) * inDim + i];
      const c3 = scale * a[(k + 3) * inDim + i];
      const b0 = k * outDim;
      const b1 = b0 + outDim;
      const b2 = b1 + outDim;
      const b3 = b2 + outDim;
      for (let o = 0; o < outDim; o++) {
        out[wRow + o] += c0 * bt[b0 + o] + c1 * bt[b1 + o] + c2 * bt[b2 + o] + c3 * bt[b3 + o];
      }
    }
    for (; k < rank; k++) {
      const c = scale * a[k * inDim + i];
      const bRow = k * outDim;
      for (let o = 0; o < outDim; o++) out[wRow + o] += c * bt[bRow + o];
    }
  }
  return out;
}

interface MergeJob {
  name: string;
  run: () => F32Tensor;
}

function mergeJobs(base: TensorMap, module: TensorMap, dims: LlamaDims, lora: LoraConfig): MergeJob[] {
  const scratch = new Scratch();
  const jobs: MergeJob[] = [];
  for (let layer = 0; layer < dims.numLayers; layer++) {
    for (const target of lora.targets as readonly LoraTarget[]) {
      const [inDim, outDim] = linearShape(dims, target);
      const name = tensorNames.linear(layer, target);
      // Validate everything up front so a bad module fails before any work is done.
      const w = expectTensor(base, name, [inDim, outDim], 'MODEL_SHAPE_MISMATCH');
      const a = expectTensor(module, tensorNames.loraA(layer, target), [lora.rank, inDim], 'MODULE_INVALID');
      const b = expectTensor(module, tensorNames.loraB(layer, target), [outDim, lora.rank], 'MODULE_INVALID');
      jobs.push({
        name,
        run: () => ({ shape: w.shape, data: mergeOne(w.data, a.data, b.data, inDim, outDim, lora.rank, lora.scale, scratch) }),
      });
    }
  }
  return jobs;
}

/**
 * The merged weights of one module: merged targets are new arrays, every other tensor is the
 * base's own object (shared, not copied). Errors: MODEL_SHAPE_MISMATCH (base), MODULE_INVALID.
 */
export function mergeModule(base: TensorMap, module: TensorMap, dims: LlamaDims, lora: LoraConfig): Map<string, F32Tensor> {
  const jobs = mergeJobs(base, module, dims, lora);
  const out = new Map(base);
  for (const job of jobs) out.set(job.name, job.run());
  return out;
}

/** Same result as mergeModule, yielding to the event loop between tensors. */
export async function mergeModuleAsync(base: TensorMap, module: TensorMap, dims: LlamaDims, lora: LoraConfig): Promise<Map<string, F32Tensor>> {
  const jobs = mergeJobs(base, module, dims, lora);
  const out = new Map(base);
  for (const job of jobs) {
    out.set(job.name, job.run());
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return out;
}
