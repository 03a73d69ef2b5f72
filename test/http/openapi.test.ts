import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_TABLE } from '../../src/errors.ts';
import { OPENAPI_PATH, generateOpenApi } from '../../src/http/openapi.ts';
import { REPO_ROOT } from '../../src/paths.ts';
import { closeShared, makeApp } from './helpers.ts';

let app: FastifyInstance;
let generated: string;
beforeAll(async () => {
  app = await makeApp();
  generated = await generateOpenApi(app);
});
afterAll(async () => {
  await app.close();
  await closeShared();
});

describe('openapi/openapi.json', () => {
  it('matches the spec generated from the route schemas (regenerate: npx tsx openapi/generate.ts)', async () => {
    const committed = await readFile(OPENAPI_PATH, 'utf8');
    expect(JSON.parse(generated)).toEqual(JSON.parse(committed));
  });

  // Against the committed file, not the generated spec: that one is built from ERROR_TABLE
  // itself (http/errors.ts), so comparing the two would only compare the table with itself.
  it('the committed spec documents exactly the codes of the error table', async () => {
    const codes = await committedErrorCodes();
    expect(codes).toEqual(Object.keys(ERROR_TABLE).sort());
  });

  it('the committed spec documents every code the source throws', async () => {
    const documented = new Set(await committedErrorCodes());
    const thrown = await thrownCodes(join(REPO_ROOT, 'src'));
    expect(thrown.size).toBeGreaterThan(30); // the scan finds them (44 codes, 42 thrown by name)
    expect([...thrown].filter((code) => !documented.has(code))).toEqual([]);
  });

  it('documents every route with its error responses', () => {
    const spec = JSON.parse(generated);
    expect(Object.keys(spec.paths).sort()).toEqual(['/health', '/metrics', '/ready', '/v1/detect', '/v1/languages', '/v1/model', '/v1/translate']);
    for (const path of ['/v1/translate', '/v1/detect', '/v1/languages', '/v1/model', '/ready']) {
      const op = spec.paths[path].post ?? spec.paths[path].get;
      expect(op.responses['4XX'] ?? op.responses['4xx']).toBeDefined();
      expect(op.responses['5XX'] ?? op.responses['5xx']).toBeDefined();
    }
  });
});

async function committedErrorCodes(): Promise<string[]> {
  const spec = JSON.parse(await readFile(OPENAPI_PATH, 'utf8'));
  return [...spec.components.schemas.Error.properties.error.properties.code.enum].sort();
}

/** Codes named at a `new XalmaError('CODE'` in any source file (codes passed in variables are not seen). */
async function thrownCodes(dir: string): Promise<Set<string>> {
  const codes = new Set<string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const text = await readFile(join(entry.parentPath, entry.name), 'utf8');
    for (const m of text.matchAll(/new XalmaError\(\s*'([A-Z0-9_]+)'/g)) codes.add(m[1]);
  }
  return codes;
}
