/**
 * Regenerates openapi/openapi.json (beside this script) from the route schemas:
 *   npx tsx openapi/generate.ts
 * It builds the real app on the embedded model (the spec does not depend on the model, but the
 * app needs one to build). A script, not part of the server: it sits outside src/ so nothing in
 * src/http imports the server or the engine.
 */
import { writeFile } from 'node:fs/promises';
import { defaultConfig } from '../src/config.ts';
import { createEngine } from '../src/engine/engine.ts';
import { OPENAPI_PATH, generateOpenApi } from '../src/http/openapi.ts';
import { createDetector } from '../src/languages/index.ts';
import { buildApp } from '../src/server.ts';

const config = defaultConfig({ logLevel: 'silent' });
const engine = await createEngine({ modelDir: config.modelDir, mode: config.mode, provider: 'cpu' });
const app = await buildApp({ config, engine, detector: await createDetector() });
try {
  await writeFile(OPENAPI_PATH, await generateOpenApi(app));
} finally {
  await app.close();
  await engine.close();
}
console.log(`wrote ${OPENAPI_PATH}`);
