/**
 * GET / : the translation page (what LibreTranslate users expect to find at a server's root),
 * with its script and style sheet. Three committed files in ./web, read once when the plugin
 * registers and served from memory; the page talks to the public API only (web/page.js). Kept
 * out of the OpenAPI spec: they are not API routes. Answers while the model loads (server.ts),
 * so the page can show that it is loading.
 */
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';

const WEB_DIR = new URL('./web/', import.meta.url);

/** Path -> file in ./web and its content type. */
const ASSETS = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/web/page.js': { file: 'page.js', type: 'text/javascript; charset=utf-8' },
  '/web/page.css': { file: 'page.css', type: 'text/css; charset=utf-8' },
} as const;

export const WEB_PAGE_PATHS = Object.keys(ASSETS);

/**
 * Same origin only: no inline script or style, nothing from another host, no framing. The
 * favicon is an empty data: URL, so browsers do not ask for /favicon.ico.
 */
const CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export async function webPage(app: FastifyInstance): Promise<void> {
  for (const [path, asset] of Object.entries(ASSETS)) {
    const body = await readFile(new URL(asset.file, WEB_DIR));
    app.get(path, { schema: { hide: true } }, async (_request, reply) => {
      reply
        .type(asset.type)
        // Small files: revalidate every time, so a new version shows at once after an upgrade.
        .header('cache-control', 'no-cache')
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', CONTENT_SECURITY_POLICY);
      return body;
    });
  }
}
