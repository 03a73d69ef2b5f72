/**
 * Regenerates openapi/openapi.json from the route schemas:  npx tsx src/http/write-openapi.ts
 * It builds the real app on the embedded model (the spec does not depend on the model, but the
 * app needs one to build).
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultConfig } from '../config.ts';
import { createEngine } from '../engine/engine.ts';
import { createDetector } from '../languages/index.ts';
import { buildApp } from '../server.ts';
import { OPENAPI_PATH, generateOpenApi } from './openapi.ts';

export async function writeOpenApi(path = OPENAPI_PATH): Promise<void> {
  const config = defaultConfig({ logLevel: 'silent' });
  const engine = await createEngine({ modelDir: config.modelDir, mode: config.mode, provider: 'cpu' });
  const app = await buildApp({ config, engine, detector: await createDetector() });
  try {
    await writeFile(path, await generateOpenApi(app));
  } finally {
    await app.close();
    await engine.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  await writeOpenApi();
  console.log(`wrote ${OPENAPI_PATH}`);
}
