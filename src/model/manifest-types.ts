import type { LlamaDims, LoraConfig } from './architecture.ts';
import type { WeightDtype } from './weight-storage.ts';

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
  /** Storage of the base linears and lm_head (weight-storage.ts); embeddings, norms and LoRA factors are float32. */
  dtype: WeightDtype;
  /** Quantization of int8/int4 weights, as written by the importer. */
  quantization?: ManifestQuantization;
  /** Where an imported package came from. */
  source?: ManifestSource;
  /** Merged weights per group (merged-mode linears in `dtype`), from `import --merged`. */
  merged?: ManifestMerged[];
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

export interface ManifestQuantization {
  /** int8: one symmetric scale per output column; int4: symmetric blocks along the input axis. */
  method: 'symmetric-per-column' | 'symmetric-block';
  bits: number;
  /** Block length along the input axis (int4). */
  blockSize?: number;
  /** The onnxruntime op the engine runs it with. */
  kernel: string;
}

export interface ManifestSource {
  /** Folder names (not paths) of the checkpoints, as given to import. */
  base: string;
  adapters: Array<{ group: number; name: string; file: string }>;
  merged: Array<{ group: number; name: string }>;
  /** sha256 of the base config.json. */
  configSha256: string;
  /** The checkpoint's own dtype (config torch_dtype). */
  torchDtype: string;
  importedWith: string;
}

export interface ManifestMerged {
  group: number;
  file: string;
}
