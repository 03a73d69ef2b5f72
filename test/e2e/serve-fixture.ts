/**
 * The server as `xalma-serve serve` runs it (config from argv + env, signal handlers), for the
 * e2e shutdown test that needs a real process to send SIGTERM to.
 */
import { loadConfig } from '../../src/config.ts';
import { startServer } from '../../src/server.ts';

await startServer(await loadConfig(process.argv.slice(2), process.env));
