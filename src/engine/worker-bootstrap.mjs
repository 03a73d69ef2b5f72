// Entry of the engine worker thread. Plain JS so it runs however the parent was started
// (tsx CLI, vitest, node --import tsx): it registers tsx's loader, then loads the TypeScript.
import { register } from 'tsx/esm/api';

register();
await import('./engine-worker.ts');
