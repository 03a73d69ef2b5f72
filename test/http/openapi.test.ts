import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_TABLE } from '../../src/errors.ts';
import { OPENAPI_PATH, generateOpenApi } from '../../src/http/openapi.ts';
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
  it('matches the spec generated from the route schemas (regenerate: npx tsx src/http/write-openapi.ts)', async () => {
    const committed = await readFile(OPENAPI_PATH, 'utf8');
    expect(JSON.parse(generated)).toEqual(JSON.parse(committed));
  });

  it('documents every error code of the table', () => {
    const spec = JSON.parse(generated);
    const codes = spec.components.schemas.Error.properties.error.properties.code.enum;
    expect([...codes].sort()).toEqual(Object.keys(ERROR_TABLE).sort());
  });

  it('documents every route with its error responses', () => {
    const spec = JSON.parse(generated);
    expect(Object.keys(spec.paths).sort()).toEqual(['/health', '/metrics', '/ready', '/v1/detect', '/v1/languages', '/v1/translate']);
    for (const path of ['/v1/translate', '/v1/detect', '/v1/languages', '/ready']) {
      const op = spec.paths[path].post ?? spec.paths[path].get;
      expect(op.responses['4XX'] ?? op.responses['4xx']).toBeDefined();
      expect(op.responses['5XX'] ?? op.responses['5xx']).toBeDefined();
    }
  });
});
