/**
 * The server as `xalma-serve serve` runs it (config from argv + env, signal handlers), for the
 * e2e shutdown tests that need a real process to send SIGTERM to. XALMA_TEST_HOLD_LOADING=detector
 * (or engine) holds start-up before that part is reported loaded, for ever: a signal during loading.
 */
import { loadConfig } from '../../src/config.ts';
import type { LoadingPart } from '../../src/http/lifecycle.ts';
import { startServer } from '../../src/server.ts';

const hold = process.env.XALMA_TEST_HOLD_LOADING as LoadingPart | undefined;
const server = await startServer(await loadConfig(process.argv.slice(2), process.env), {
  beforeLoaded: hold ? (part) => (part === hold ? new Promise<void>(() => {}) : Promise.resolve()) : undefined,
});
await server.startup;
