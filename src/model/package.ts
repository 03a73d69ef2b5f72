/**
 * Loading a model package folder (DESIGN 2, "Model package"): manifest, file presence, sizes,
 * checksums and the base weights' tensor shapes.
 *
 * LoRA module files are deliberately NOT checked here: a missing or corrupt module must fail
 * only its own group, when the LoRA cache loads it (validateModuleFile, verifyModuleChecksum),
 * not keep the whole server from starting.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isXalmaError, XalmaError } from '../errors.ts';
import { loraTensorShapes } from './architecture.ts';
import { baseTensorStorage } from './weight-storage.ts';
import { parseManifest, sha256File } from './manifest.ts';
import type { Manifest, ManifestFile } from './manifest-types.ts';
import { readSafetensorsHeader, shapeText } from './safetensors.ts';
import type { SafetensorsHeader } from './safetensors.ts';
export type { PackageFile } from './external-data.ts';

export const MANIFEST_FILE = 'manifest.json';

export interface ModelPackage {
  /** The package folder as given. */
  dir: string;
  manifest: Manifest;
  /** Absolute-or-as-given paths (join(dir, relative)). */
  weightsPath: string;
  graphPath: string;
  tokenizerPath: string;
  /** Path of a group's LoRA module file; MODULE_UNAVAILABLE for a group the manifest lacks. */
  modulePath(group: number): string;
}

export interface LoadModelPackageOptions {
  /** Hash every non-module file against the manifest (default true). Sizes are always checked. */
  verifyChecksums?: boolean;
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Reads and validates manifest.json alone (no file checks): cheap, for callers that need the model's description first. */
export async function readManifestFile(dir: string): Promise<Manifest> {
  const where = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(where, 'utf8');
  } catch (err) {
    if (isNotFound(err)) throw new XalmaError('MODEL_FILE_MISSING', where, { file: MANIFEST_FILE }, { cause: err });
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new XalmaError('MODEL_MANIFEST_INVALID', `${where}: not valid JSON (${(err as Error).message})`, { file: MANIFEST_FILE }, { cause: err });
  }
  return parseManifest(json, where);
}

/** Size first (free), then the hash when asked. */
async function checkFile(dir: string, entry: ManifestFile, verifyChecksum: boolean): Promise<void> {
  const abs = join(dir, entry.path);
  let size: number;
  try {
    size = (await stat(abs)).size;
  } catch (err) {
    if (isNotFound(err)) throw new XalmaError('MODEL_FILE_MISSING', abs, { file: entry.path }, { cause: err });
    throw err;
  }
  if (size !== entry.bytes) {
    throw new XalmaError('MODEL_CHECKSUM_MISMATCH', `${abs}: ${size} bytes, the manifest says ${entry.bytes}`, { file: entry.path });
  }
  if (!verifyChecksum) return;
  const actual = await sha256File(abs);
  if (actual !== entry.sha256) {
    throw new XalmaError('MODEL_CHECKSUM_MISMATCH', `${abs}: sha256 ${actual}, the manifest says ${entry.sha256}`, { file: entry.path });
  }
}

async function checkBaseWeights(path: string, manifest: Manifest): Promise<void> {
  const header = await readSafetensorsHeader(path);
  for (const { name, shape: expected, dtype } of baseTensorStorage(manifest.dims, manifest.dtype)) {
    const entry = header.tensors.get(name);
    if (!entry) {
      throw new XalmaError('MODEL_SHAPE_MISMATCH', `${path}: tensor ${name} is missing (expected shape ${shapeText(expected)})`, { file: path, tensor: name });
    }
    if (!sameShape(entry.shape, expected)) {
      throw new XalmaError(
        'MODEL_SHAPE_MISMATCH',
        `${path}: tensor ${name} has shape ${shapeText(entry.shape)}, expected ${shapeText(expected)}`,
        { file: path, tensor: name, expected, actual: entry.shape },
      );
    }
    if (entry.dtype !== dtype) {
      throw new XalmaError('MODEL_SHAPE_MISMATCH', `${path}: tensor ${name} is ${entry.dtype}, a ${manifest.dtype} package stores it as ${dtype}`, { file: path, tensor: name });
    }
  }
}

/**
 * Reads and verifies a package folder. Errors: MODEL_FILE_MISSING, MODEL_MANIFEST_INVALID,
 * MODEL_UNSUPPORTED_VERSION, MODEL_UNKNOWN_ARCHITECTURE, MODEL_CHECKSUM_MISMATCH,
 * MODEL_SHAPE_MISMATCH, SAFETENSORS_INVALID (base weights header).
 */
export async function loadModelPackage(dir: string, opts: LoadModelPackageOptions = {}): Promise<ModelPackage> {
  const verifyChecksums = opts.verifyChecksums ?? true;
  const manifest = await readManifestFile(dir);
  const modules = new Set(manifest.groups.map((g) => g.module));
  // Files are hashed concurrently: hashing runs on libuv's pool, so large files overlap.
  await Promise.all(
    manifest.files.filter((f) => !modules.has(f.path)).map((f) => checkFile(dir, f, verifyChecksums)),
  );
  const weightsPath = join(dir, manifest.weights);
  await checkBaseWeights(weightsPath, manifest);
  const modulePaths = new Map(manifest.groups.map((g) => [g.id, join(dir, g.module)]));
  return {
    dir,
    manifest,
    weightsPath,
    graphPath: join(dir, manifest.graph),
    tokenizerPath: join(dir, manifest.tokenizer.file),
    modulePath(group: number): string {
      const p = modulePaths.get(group);
      if (p === undefined) throw new XalmaError('MODULE_UNAVAILABLE', `group ${group} is not in the manifest`, { group });
      return p;
    },
  };
}

/**
 * Checks a LoRA module file against the manifest's dims and LoRA config. Resolves to its
 * header (the cache can use the offsets). Errors: MODULE_UNAVAILABLE (file missing),
 * MODULE_INVALID (malformed file, missing tensor, wrong shape or rank).
 */
export async function validateModuleFile(path: string, manifest: Manifest, group: number): Promise<SafetensorsHeader> {
  let header: SafetensorsHeader;
  try {
    header = await readSafetensorsHeader(path);
  } catch (err) {
    if (isNotFound(err)) {
      throw new XalmaError('MODULE_UNAVAILABLE', `group ${group}: module file ${path} is missing`, { group }, { cause: err });
    }
    // A malformed file is the module's fault; any other I/O error (EACCES, EIO) is not.
    const code = isXalmaError(err, 'SAFETENSORS_INVALID') ? 'MODULE_INVALID' : 'MODULE_UNAVAILABLE';
    throw new XalmaError(code, `group ${group}: ${(err as Error).message}`, { group }, { cause: err });
  }
  const rank = manifest.lora.rank;
  for (const [name, expected] of loraTensorShapes(manifest.dims, manifest.lora)) {
    const entry = header.tensors.get(name);
    if (!entry) {
      throw new XalmaError('MODULE_INVALID', `group ${group}: ${path}: tensor ${name} is missing`, { group, tensor: name });
    }
    if (entry.dtype !== 'F32') {
      throw new XalmaError('MODULE_INVALID', `group ${group}: ${path}: tensor ${name} is ${entry.dtype}, module files hold F32`, { group, tensor: name });
    }
    if (sameShape(entry.shape, expected)) continue;
    // Name the likely cause: a module trained with another rank than the manifest's.
    const isA = name.endsWith('.lora_A');
    const fileRank = entry.shape.length === 2 ? entry.shape[isA ? 0 : 1] : undefined;
    const why = fileRank !== undefined && fileRank !== rank ? ` (rank ${fileRank}, the manifest says ${rank})` : '';
    throw new XalmaError(
      'MODULE_INVALID',
      `group ${group}: ${path}: tensor ${name} has shape ${shapeText(entry.shape)}, expected ${shapeText(expected)}${why}`,
      { group, tensor: name, expected, actual: entry.shape },
    );
  }
  return header;
}

/** Size and sha256 of a group's module file against manifest.files (MODULE_UNAVAILABLE / MODULE_INVALID). */
export async function verifyModuleChecksum(pkg: ModelPackage, group: number): Promise<void> {
  const path = pkg.modulePath(group);
  const rel = pkg.manifest.groups.find((g) => g.id === group)?.module;
  const entry = pkg.manifest.files.find((f) => f.path === rel);
  // parseManifest guarantees every module is listed; this guards hand-built manifests.
  if (!entry) throw new XalmaError('MODULE_INVALID', `group ${group}: module ${rel} is not listed in the manifest files`, { group });
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (err) {
    if (isNotFound(err)) {
      throw new XalmaError('MODULE_UNAVAILABLE', `group ${group}: module file ${path} is missing`, { group }, { cause: err });
    }
    throw err;
  }
  if (size !== entry.bytes) {
    throw new XalmaError('MODULE_INVALID', `group ${group}: ${path}: ${size} bytes, the manifest says ${entry.bytes}`, { group });
  }
  const actual = await sha256File(path);
  if (actual !== entry.sha256) {
    throw new XalmaError('MODULE_INVALID', `group ${group}: ${path}: sha256 ${actual}, the manifest says ${entry.sha256}`, { group });
  }
}
