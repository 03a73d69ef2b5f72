/**
 * A one-node ONNX graph that merges one LoRA target in Hugging Face's layout:
 *   merged [out, in] = W [out, in] + scale * B [out, r] @ A [r, in]
 * (Gemm with C = W). Run by onnxruntime so a rank-512 merge uses its GEMM, not a JS loop.
 */
import { DataType, encodeModel } from './onnx-proto.ts';
import { IR_VERSION, OPSET } from './graph-builder.ts';

export function buildLinearMergeGraph(scale: number): Buffer {
  return encodeModel({
    irVersion: IR_VERSION,
    opsets: [{ domain: '', version: OPSET }],
    producerName: 'xalma-serve',
    graph: {
      name: 'lora_merge',
      nodes: [{ opType: 'Gemm', inputs: ['B', 'A', 'W'], outputs: ['merged'], attributes: { alpha: { f: scale }, beta: { f: 1 } } }],
      initializers: [],
      inputs: [
        { name: 'W', elemType: DataType.FLOAT, shape: ['out', 'in'] },
        { name: 'A', elemType: DataType.FLOAT, shape: ['r', 'in'] },
        { name: 'B', elemType: DataType.FLOAT, shape: ['out', 'r'] },
      ],
      outputs: [{ name: 'merged', elemType: DataType.FLOAT, shape: ['out', 'in'] }],
    },
  });
}
