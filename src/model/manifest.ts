/**
 * manifest.json of a model package: JSON schema, parsing with coded errors, and the file
 * entries (size + sha256) the package loader verifies.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, posix, sep } from 'node:path';
import { Ajv } from 'ajv';
import type { ErrorObject, JSONSchemaType } from 'ajv';
import { XalmaError } from '../errors.ts';
import { LORA_TARGETS } from './architecture.ts';
import { PACKAGE_FORMAT_VERSION } from './manifest-types.ts';
import type { Manifest, ManifestFile } from './manifest-types.ts';

const SHA256_PATTERN = '^[0-9a-f]{64}$';
const LANGUAGE_PATTERN = '^[a-z]{2}$';
const positiveInt = { type: 'integer', minimum: 1 } as const;
const relativePath = {
  type: 'string',
  minLength: 1,
  // '/'-separated, relative, no '..' segment: a manifest must not reach outside its folder.
  pattern: '^(?!/)(?!.*(^|/)\\.\\.(/|$))[^\\\\]+$',
} as const;

/** JSON schema of manifest.json; typed against `Manifest` so the two cannot drift. */
export const manifestSchema: JSONSchemaType<Manifest> = {
  type: 'object',
  additionalProperties: false,
  required: [
    'format', 'formatVersion', 'name', 'demo', 'description', 'architecture', 'dims', 'dtype',
    'tokenizer', 'promptTemplate', 'lora', 'groups', 'weights', 'graph', 'files',
  ],
  properties: {
    format: { type: 'string', const: 'xalma-package' },
    formatVersion: { type: 'integer' },
    name: { type: 'string', minLength: 1 },
    demo: { type: 'boolean' },
    description: { type: 'string' },
    architecture: { type: 'string', const: 'llama' },
    dims: {
      type: 'object',
      additionalProperties: false,
      required: [
        'vocabSize', 'hiddenSize', 'intermediateSize', 'numLayers', 'numHeads', 'numKvHeads',
        'headDim', 'maxPositions', 'rmsNormEps', 'ropeTheta',
      ],
      properties: {
        vocabSize: positiveInt,
        hiddenSize: positiveInt,
        intermediateSize: positiveInt,
        numLayers: positiveInt,
        numHeads: positiveInt,
        numKvHeads: positiveInt,
        headDim: positiveInt,
        maxPositions: positiveInt,
        rmsNormEps: { type: 'number', exclusiveMinimum: 0 },
        ropeTheta: { type: 'number', exclusiveMinimum: 0 },
      },
    },
    dtype: { type: 'string', enum: ['float32', 'float16', 'int8', 'int4'] },
    quantization: {
      type: 'object',
      nullable: true,
      additionalProperties: false,
      required: ['method', 'bits', 'kernel'],
      properties: {
        method: { type: 'string', enum: ['symmetric-per-column', 'symmetric-block'] },
        bits: positiveInt,
        blockSize: { ...positiveInt, nullable: true },
        kernel: { type: 'string' },
      },
    },
    source: {
      type: 'object',
      nullable: true,
      additionalProperties: false,
      required: ['base', 'adapters', 'merged', 'configSha256', 'torchDtype', 'importedWith'],
      properties: {
        base: { type: 'string' },
        adapters: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['group', 'name', 'file'],
            properties: { group: positiveInt, name: { type: 'string' }, file: { type: 'string' } },
          },
        },
        merged: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['group', 'name'],
            properties: { group: positiveInt, name: { type: 'string' } },
          },
        },
        configSha256: { type: 'string', pattern: SHA256_PATTERN },
        torchDtype: { type: 'string' },
        importedWith: { type: 'string' },
      },
    },
    merged: {
      type: 'array',
      nullable: true,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['group', 'file'],
        properties: { group: positiveInt, file: relativePath },
      },
    },
    tokenizer: {
      type: 'object',
      additionalProperties: false,
      required: ['file', 'bosId', 'eosId', 'padId'],
      properties: {
        file: relativePath,
        bosId: { type: 'integer', minimum: 0 },
        eosId: { type: 'integer', minimum: 0 },
        padId: { type: 'integer', minimum: 0 },
      },
    },
    promptTemplate: { type: 'string', minLength: 1 },
    lora: {
      type: 'object',
      additionalProperties: false,
      required: ['rank', 'scale', 'targets'],
      properties: {
        rank: positiveInt,
        scale: { type: 'number' },
        targets: {
          type: 'array',
          minItems: 1,
          uniqueItems: true,
          items: { type: 'string', enum: [...LORA_TARGETS] },
        },
      },
    },
    groups: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'name', 'languages', 'module'],
        properties: {
          id: positiveInt,
          name: { type: 'string', minLength: 1 },
          languages: { type: 'array', minItems: 1, items: { type: 'string', pattern: LANGUAGE_PATTERN } },
          module: relativePath,
        },
      },
    },
    weights: relativePath,
    graph: relativePath,
    files: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['path', 'bytes', 'sha256'],
        properties: {
          path: relativePath,
          bytes: { type: 'integer', minimum: 0 },
          sha256: { type: 'string', pattern: SHA256_PATTERN },
        },
      },
    },
  },
};

let compiled: ReturnType<Ajv['compile']> | undefined;
function validator(): ReturnType<Ajv['compile']> {
  // Compiled on first use, not at import (STYLE: nothing happens at import time).
  compiled ??= new Ajv({ allErrors: false, strict: true }).compile(manifestSchema);
  return compiled;
}

/** Readable wording for the schema's regular expressions. */
const PATTERN_MEANING: Record<string, string> = {
  [relativePath.pattern]: 'must be a relative path inside the package (\'/\'-separated, no \'..\')',
  [SHA256_PATTERN]: 'must be 64 lowercase hex digits',
  [LANGUAGE_PATTERN]: 'must be a two-letter ISO 639-1 code',
};

function describeAjvError(e: ErrorObject): string {
  const at = e.instancePath === '' ? '(root)' : e.instancePath;
  if (e.keyword === 'pattern') {
    const meaning = PATTERN_MEANING[(e.params as { pattern: string }).pattern];
    if (meaning) return `${at} ${meaning}`;
  }
  const extra = e.keyword === 'additionalProperties'
    ? ` (${(e.params as { additionalProperty: string }).additionalProperty})`
    : e.keyword === 'enum' || e.keyword === 'const'
      ? ` (${JSON.stringify((e.params as { allowedValues?: unknown; allowedValue?: unknown }).allowedValues ?? (e.params as { allowedValue?: unknown }).allowedValue)})`
      : '';
  return `${at} ${e.message ?? e.keyword}${extra}`;
}

function manifestInvalid(where: string, detail: string): XalmaError {
  return new XalmaError('MODEL_MANIFEST_INVALID', `${where}: ${detail}`, { file: where });
}

/**
 * Validates a parsed manifest.json. `where` names the file in error messages.
 * Order matters: the version is checked first (another version may have another schema),
 * then the architecture, so those get their own codes instead of a generic schema error.
 */
export function parseManifest(json: unknown, where: string): Manifest {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw manifestInvalid(where, 'not a JSON object');
  }
  const obj = json as Record<string, unknown>;
  if ('formatVersion' in obj && obj.formatVersion !== PACKAGE_FORMAT_VERSION) {
    throw new XalmaError(
      'MODEL_UNSUPPORTED_VERSION',
      `${where}: formatVersion ${JSON.stringify(obj.formatVersion)}, this server reads ${PACKAGE_FORMAT_VERSION}`,
      { file: where },
    );
  }
  if ('architecture' in obj && obj.architecture !== 'llama') {
    throw new XalmaError(
      'MODEL_UNKNOWN_ARCHITECTURE',
      `${where}: architecture ${JSON.stringify(obj.architecture)}, this server knows "llama"`,
      { file: where },
    );
  }
  const validate = validator();
  if (!validate(json)) {
    const first = validate.errors?.[0];
    throw manifestInvalid(where, first ? describeAjvError(first) : 'schema validation failed');
  }
  const m = json as Manifest;
  checkConsistency(m, where);
  return m;
}

/** What the schema cannot say: cross-field rules. */
function checkConsistency(m: Manifest, where: string): void {
  const d = m.dims;
  if (d.numHeads % d.numKvHeads !== 0) {
    throw manifestInvalid(where, `/dims numHeads ${d.numHeads} is not a multiple of numKvHeads ${d.numKvHeads}`);
  }
  if (d.headDim % 2 !== 0) throw manifestInvalid(where, `/dims headDim ${d.headDim} must be even (RoPE rotates pairs)`);
  for (const [key, id] of [['bosId', m.tokenizer.bosId], ['eosId', m.tokenizer.eosId], ['padId', m.tokenizer.padId]] as const) {
    if (id >= d.vocabSize) throw manifestInvalid(where, `/tokenizer/${key} ${id} is outside the vocabulary (${d.vocabSize})`);
  }
  const ids = new Set<number>();
  const languages = new Map<string, number>();
  for (const [i, g] of m.groups.entries()) {
    if (ids.has(g.id)) throw manifestInvalid(where, `/groups/${i}/id ${g.id} is repeated`);
    ids.add(g.id);
    for (const lang of g.languages) {
      const other = languages.get(lang);
      if (other !== undefined) throw manifestInvalid(where, `/groups/${i}/languages "${lang}" is also in group ${other}`);
      languages.set(lang, g.id);
    }
  }
  const listed = new Set<string>();
  for (const [i, f] of m.files.entries()) {
    if (listed.has(f.path)) throw manifestInvalid(where, `/files/${i}/path "${f.path}" is repeated`);
    listed.add(f.path);
  }
  const mustList: Array<[string, string]> = [
    ['/weights', m.weights],
    ['/graph', m.graph],
    ['/tokenizer/file', m.tokenizer.file],
    ...m.groups.map((g, i): [string, string] => [`/groups/${i}/module`, g.module]),
    ...(m.merged ?? []).map((g, i): [string, string] => [`/merged/${i}/file`, g.file]),
  ];
  for (const [i, g] of (m.merged ?? []).entries()) {
    if (!ids.has(g.group)) throw manifestInvalid(where, `/merged/${i}/group ${g.group} is not in /groups`);
  }
  for (const [at, p] of mustList) {
    if (!listed.has(p)) throw manifestInvalid(where, `${at} "${p}" is not listed in /files`);
  }
}

/** sha256 of a file as lowercase hex, streamed (constant memory whatever the size). */
export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    // 1 MiB reads: the 64 KiB default costs ~15% more syscall overhead on multi-GB files.
    const stream = createReadStream(path, { highWaterMark: 1024 * 1024 });
    stream.on('data', (chunk) => hash.update(chunk));
    stream.on('error', reject);
    stream.on('end', () => resolve(hash.digest('hex')));
  });
}

/** The manifest entry for `relPath` (relative to the package root, either separator). */
export async function buildFileEntry(root: string, relPath: string): Promise<ManifestFile> {
  const path = relPath.split(sep).join(posix.sep);
  const abs = join(root, path);
  const [info, sha256] = await Promise.all([stat(abs), sha256File(abs)]);
  return { path, bytes: info.size, sha256 };
}
