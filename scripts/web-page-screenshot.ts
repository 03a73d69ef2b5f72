/**
 * Makes docs/web-page.png, the README's picture of the translation page: starts the server on
 * the embedded demo model (loopback, a free port), opens GET / in headless Chromium (Debian's
 * package, installed when missing, as for the browser test), translates one sentence with the
 * source detected, and takes the screenshot.
 *
 *   npx tsx scripts/web-page-screenshot.ts [out.png]
 *
 * Decoding stops after 32 tokens (the server's default is 256): the demo model's output is noise
 * either way, and a short one keeps the picture readable.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import puppeteer from 'puppeteer-core';
import { defaultConfig } from '../src/config.ts';
import { startServer } from '../src/server.ts';
import { ensureChromium } from '../test/support/chromium.ts';

const out = resolve(process.argv[2] ?? 'docs/web-page.png');
const chromium = ensureChromium();
if (chromium.path === null) throw new Error(`no chromium: ${chromium.reason}`);

const server = await startServer(
  defaultConfig({ host: '127.0.0.1', port: 0, logLevel: 'silent', detectPreload: 'off', defaultMaxNewTokens: 32 }),
  { signals: false },
);
const browser = await puppeteer.launch({ executablePath: chromium.path, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
try {
  await server.startup;
  const page = await browser.newPage();
  await page.setViewport({ width: 1100, height: 620 });
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => !(document.getElementById('translate') as HTMLButtonElement).disabled);
  await page.select('#target', 'de');
  await page.type('#text', 'The weather is nice today. Shall we walk along the river after lunch?');
  await page.click('#translate');
  await page.waitForFunction(() => document.getElementById('output')?.textContent !== '');
  await mkdir(dirname(out), { recursive: true });
  await page.screenshot({ path: out as `${string}.png`, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await server.shutdown();
}
