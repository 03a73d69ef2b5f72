import type { LlamaDims, LoraConfig } from './architecture.ts';

/** Model package format version this server reads and writes. */
export const PACKAGE_FORMAT_VERSION = 1;

export interface ManifestFile {
  /** Path relative to the package folder, '/' separated. */
  path: string;
  bytes: number;
  sha256: string;
}

export interface ManifestGroup {
  /** 1-based group id as in the X-ALMA paper. */
  id: number;
  name: string;
  /** ISO 639-1 codes of the group's non-English languages. */
  languages: string[];
  /** LoRA module file (safetensors), relative path. */
  module: string;
}

export interface Manifest {
  format: 'xalma-package';
  formatVersion: number;
  name: string;
  /** true when the weights are made by the project and do not translate. */
  demo: boolean;
  description: string;
  architecture: 'llama';
  dims: LlamaDims;
  dtype: 'float32';
  tokenizer: { file: string; bosId: number; eosId: number; padId: number };
  /** X-ALMA chat prompt with {source}, {target}, {text} placeholders (DESIGN 1). */
  promptTemplate: string;
  lora: LoraConfig;
  groups: ManifestGroup[];
  /** Base weights (safetensors, [in, out] layout: see architecture.ts). */
  weights: string;
  /** Base ONNX graph whose external data points into `weights`. */
  graph: string;
  files: ManifestFile[];
}
