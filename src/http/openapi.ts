/**
 * OpenAPI: @fastify/swagger builds the spec from the route schemas; Swagger UI serves it at
 * /docs. The committed copy (openapi/openapi.json) is checked for drift by the tests and
 * regenerated with `npx tsx openapi/generate.ts`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { REPO_ROOT } from '../paths.ts';

export const OPENAPI_PATH = join(REPO_ROOT, 'openapi', 'openapi.json');

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

export async function registerDocs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'xalma-serve',
        version: packageVersion(),
        description: 'Self-hosted X-ALMA machine translation. Every error body is `{ error: { code, message, details? } }`; `code` is one of the Error schema enum.',
      },
      tags: [
        { name: 'translation', description: 'Machine translation' },
        { name: 'languages', description: 'Languages, groups and detection' },
        { name: 'operations', description: 'Health, readiness and metrics' },
      ],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'Needed on /v1/* when the server has API keys' } } },
    },
    // Name shared schemas by their $id (components.schemas.Error), not def-0.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}

/** The spec as committed: stable key order from registration, 2-space JSON, trailing newline. */
export async function generateOpenApi(app: FastifyInstance): Promise<string> {
  await app.ready();
  return `${JSON.stringify(app.swagger(), null, 2)}\n`;
}
