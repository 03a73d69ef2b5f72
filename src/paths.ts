import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** The repository root (src/..), so paths work from any working directory. */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The embedded default model package (DESIGN 3), as the option table shows it (relative to the repo). */
export const DEFAULT_MODEL_RELATIVE = 'models/xalma-tiny-demo';
/** The embedded default model package, absolute. */
export const DEFAULT_MODEL_DIR = join(REPO_ROOT, DEFAULT_MODEL_RELATIVE);
