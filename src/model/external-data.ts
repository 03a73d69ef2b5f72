/**
 * Graph initializers that read tensors in place from a package's safetensors files (ONNX
 * external data): nothing is copied into the graph, which stays small whatever the model size.
 */
import { buildDecoderGraph, type WeightData } from './graph-builder.ts';
import { XalmaError } from '../errors.ts';
import type { LlamaDims } from './architecture.ts';
import { DataType, type DataTypeId } from './onnx-proto.ts';
import type { SafetensorsDtype, SafetensorsHeader } from './safetensors.ts';
import type { WeightDtype } from './weight-storage.ts';

/** A safetensors file of a package, by its path relative to the package folder, with its header. */
export interface PackageFile {
  location: string;
  header: SafetensorsHeader;
}

const ONNX_TYPE: Partial<Record<SafetensorsDtype, DataTypeId>> = {
  F32: DataType.FLOAT, F16: DataType.FLOAT16, I8: DataType.INT8, U8: DataType.UINT8,
};

/** An initializer that reads tensor `name` of `file` in place, checked against the graph's shape. */
export function externalTensor(file: PackageFile, name: string, shape: readonly number[]): WeightData {
  const entry = file.header.tensors.get(name);
  if (!entry) throw new XalmaError('MODEL_SHAPE_MISMATCH', `${file.location} lacks ${name}`, { file: file.location, tensor: name });
  if (entry.shape.length !== shape.length || entry.shape.some((d, i) => d !== shape[i])) {
    throw new XalmaError('MODEL_SHAPE_MISMATCH', `${file.location}: ${name} has shape [${entry.shape.join(', ')}], the graph needs [${shape.join(', ')}]`, { file: file.location, tensor: name });
  }
  const dataType = ONNX_TYPE[entry.dtype];
  if (dataType === undefined) throw new XalmaError('MODEL_SHAPE_MISMATCH', `${file.location}: ${name} has dtype ${entry.dtype}, which no graph reads`, { file: file.location, tensor: name });
  return { external: { location: file.location, offset: entry.begin, length: entry.end - entry.begin }, dataType };
}

/**
 * The package's base.onnx: standard ops only where the dtype allows (float32; other dtypes need
 * onnxruntime's contrib ops) and logits for every position, so other runtimes can run it.
 */
export function packageBaseGraph(dims: LlamaDims, dtype: WeightDtype, weights: PackageFile): Buffer {
  return buildDecoderGraph({
    dims,
    lora: { kind: 'none' },
    logits: 'all',
    norm: 'standard',
    weightDtype: dtype,
    weights: (name, shape) => externalTensor(weights, name, shape),
  });
}
