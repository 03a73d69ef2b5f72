import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** The repository root (src/..), so paths work from any working directory. */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The embedded default model package (DESIGN 3). */
export const DEFAULT_MODEL_DIR = join(REPO_ROOT, 'models', 'xalma-tiny-demo');
