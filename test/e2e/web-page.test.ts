/**
 * e2e: the translation page at GET /, in headless Chromium (Debian's package, installed by
 * test/support/chromium.ts when missing) driven by puppeteer-core, against the real server on a
 * loopback port. Start-up is held before the engine is reported loaded, so the page is seen in
 * its loading state first; nothing here bounds wall-clock time (puppeteer's waits are hang guards).
 */
import type { Browser, Page } from 'puppeteer-core';
import puppeteer from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { ensureChromium } from '../support/chromium.ts';
import { holdAt, startTestServer } from './helpers.ts';

const chromium = ensureChromium();
if (chromium.path === null) console.warn(`skipping the web page test: ${chromium.reason}`);


const GERMAN = 'Der schnelle braune Fuchs springt über den faulen Hund.';
const MAX_TEXT_CHARS = 200;

describe.skipIf(!chromium.path)('the web page at GET / in headless Chromium', () => {
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  const hold = holdAt('engine');
  /** Uncaught exceptions and console errors (a CSP violation, a failed fetch, a 404 asset). */
  const pageErrors: string[] = [];

  beforeAll(async () => {
    server = await startTestServer({ maxTextChars: MAX_TEXT_CHARS }, { waitReady: false, beforeLoaded: hold.beforeLoaded });
    browser = await puppeteer.launch({
      executablePath: chromium.path!,
      headless: true,
      timeout: 90_000,
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    });
    const context = browser.defaultBrowserContext();
    await context.overridePermissions(server.url, ['clipboard-read', 'clipboard-write', 'clipboard-sanitized-write']);
    page = await browser.newPage();
    page.setDefaultTimeout(90_000);
    page.on('pageerror', (err) => pageErrors.push(`pageerror: ${String(err)}`));
    page.on('console', (msg) => {
      const where = msg.location().url ?? '';
      // Chromium logs every non-2xx fetch: /ready's 503 while loading and the 400 provoked below are expected.
      const expected = (where.endsWith('/ready') && msg.text().includes('status of 503')) || (where.endsWith('/v1/translate') && msg.text().includes('status of 400'));
      if (msg.type() === 'error' && !expected) pageErrors.push(`console: ${msg.text()} ${where}`);
    });
  });

  afterAll(async () => {
    hold.release();
    await browser?.close().catch(() => browser.process()?.kill('SIGKILL'));
    await server?.shutdown();
  });

  it('shows the model name, the demo banner and a loading state while /ready is 503', async () => {
    // A start-up that fails before the hold (the engine did not load) fails here with its reason.
    await Promise.race([hold.atHold, server.startup.then(() => Promise.reject(new Error('start-up ended before the engine was held')))]);
    const response = await page.goto(`${server.url}/`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-type']).toMatch(/^text\/html/);

    await page.waitForFunction(() => document.getElementById('model-name')?.textContent === 'xalma-tiny-demo');
    // Shown together with the name (one handler): visible now, or not at all.
    const banner = await page.$eval('#demo-banner', (el) => ({ hidden: (el as HTMLElement).hidden, height: el.getBoundingClientRect().height, text: el.textContent }));
    expect(banner.hidden).toBe(false);
    expect(banner.height).toBeGreaterThan(0);
    expect(banner.text).toContain('its outputs are not translations');

    await page.waitForFunction(() => document.getElementById('status')?.textContent?.startsWith('Loading the model'));
    expect(await page.$eval('#status', (el) => el.textContent)).toContain('still loading: engine');
    expect(await page.$eval('#translate', (el) => (el as HTMLButtonElement).disabled)).toBe(true);

    // The selectors are filled from /v1/languages while the model loads: all 50, plus auto-detect.
    expect(await page.$$eval('#target option', (os) => os.length)).toBe(50);
    expect(await page.$$eval('#source option', (os) => os.map((o) => (o as HTMLOptionElement).value)[0])).toBe('auto');
    expect(await page.$eval('#source', (el) => (el as HTMLSelectElement).value)).toBe('auto');
  });

  it('once ready: pick a target, type, translate; the output is what the API returned and the detected source is shown', async () => {
    hold.release();
    await server.startup;
    await page.waitForFunction(() => !(document.getElementById('translate') as HTMLButtonElement).disabled);
    expect(await page.$eval('#status', (el) => el.textContent)).toBe('Ready.');

    await page.select('#target', 'fr');
    await page.type('#text', GERMAN);
    const answered = page.waitForResponse((r) => r.url().endsWith('/v1/translate') && r.request().method() === 'POST');
    await page.click('#translate');
    const apiResponse = await answered;
    expect(apiResponse.status()).toBe(200);
    expect(JSON.parse(apiResponse.request().postData() ?? '{}')).toEqual({ text: GERMAN, source: 'auto', target: 'fr' });
    const body = (await apiResponse.json()) as { translations: Array<{ text: string; source: { language: string; detected: boolean } }> };
    const [translation] = body.translations;
    expect(translation.source).toMatchObject({ language: 'de', detected: true });

    await page.waitForFunction(() => document.getElementById('output')?.textContent !== '');
    expect(await page.$eval('#output', (el) => el.textContent)).toBe(translation.text);
    expect(translation.text.length).toBeGreaterThan(0);
    expect(await page.$eval('#detected', (el) => el.textContent)).toMatch(/^Detected language: German \(\d+% confidence\)$/);
    expect(await page.$eval('#source option[value="auto"]', (el) => el.textContent)).toBe('Detect language (German)');
    expect(await page.$eval('#status', (el) => el.textContent)).toBe('Done: demo model, so this is not a translation.');
    expect(await page.$eval('#demo-banner', (el) => (el as HTMLElement).hidden)).toBe(false);
  });

  it('copy puts the translation on the clipboard; swap makes the detected source the target', async () => {
    const translated = await page.$eval('#output', (el) => el.textContent);
    await page.click('#copy');
    await page.waitForFunction(() => document.getElementById('copied')?.textContent === 'Copied.');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(translated);

    await page.click('#swap');
    expect(await page.$eval('#source', (el) => (el as HTMLSelectElement).value)).toBe('fr');
    expect(await page.$eval('#target', (el) => (el as HTMLSelectElement).value)).toBe('de');
    expect(await page.$eval('#text', (el) => (el as HTMLTextAreaElement).value)).toBe(translated);
  });

  it("an API error is shown as an error in the status line, with the server's message", async () => {
    await page.$eval('#text', (el, n) => ((el as HTMLTextAreaElement).value = 'a'.repeat(n)), MAX_TEXT_CHARS + 1);
    const answered = page.waitForResponse((r) => r.url().endsWith('/v1/translate'));
    await page.click('#translate');
    expect((await answered).status()).toBe(400);
    await page.waitForFunction(() => document.getElementById('status')?.classList.contains('error'));
    expect(await page.$eval('#status', (el) => el.textContent)).toContain('A text is longer than the configured limit');
    expect(await page.$eval('#translate', (el) => (el as HTMLButtonElement).disabled)).toBe(false);
  });

  it('with API keys the page asks for one, then sends it as a Bearer token and fills in the model and languages', async () => {
    const key = 'web-page-e2e-key-0123456789';
    // Model name and languages answer while loading: no need to wait for this server to be ready.
    const keyed = await startTestServer({ apiKeys: [key] }, { waitReady: false });
    const keyedPage = await browser.newPage();
    try {
      await keyedPage.goto(`${keyed.url}/`);
      await keyedPage.waitForSelector('#api-key', { visible: true });
      expect(await keyedPage.$eval('#status', (el) => el.textContent)).toBe('This server needs an API key: enter it below.');
      expect(await keyedPage.$eval('#model-name', (el) => el.textContent)).toBe('…');

      const sent = keyedPage.waitForRequest((r) => r.url().endsWith('/v1/model') && r.headers().authorization !== undefined);
      await keyedPage.type('#api-key', key);
      await keyedPage.keyboard.press('Tab'); // change event
      expect((await sent).headers().authorization).toBe(`Bearer ${key}`);
      await keyedPage.waitForFunction(() => document.getElementById('model-name')?.textContent === 'xalma-tiny-demo');
      expect(await keyedPage.$$eval('#target option', (os) => os.length)).toBe(50);
    } finally {
      await keyedPage.close();
      await keyed.shutdown();
    }
  });

  it('every control has a label, and the page logged no error (CSP, failed fetch, missing asset)', async () => {
    const unlabelled = await page.$$eval('select, textarea, input, output', (els) =>
      els.filter((el) => (el as HTMLInputElement).labels?.length === 0 && !el.getAttribute('aria-labelledby')).map((el) => el.id),
    );
    expect(unlabelled).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
