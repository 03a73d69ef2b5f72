/** Which model answered: every translation response carries it (DESIGN 3: demo outputs are labelled). */
import type { Engine } from '../engine/types.ts';

export interface ModelInfo {
  name: string;
  demo: boolean;
  mode: Engine['mode'];
  provider: string;
}

export function modelInfo(engine: Engine): ModelInfo {
  return { name: engine.manifest.name, demo: engine.manifest.demo === true, mode: engine.mode, provider: engine.provider };
}

export const modelInfoSchema = {
  type: 'object',
  required: ['name', 'demo'],
  properties: {
    name: { type: 'string' },
    demo: { type: 'boolean', description: 'true for the embedded demo model, whose outputs are not translations' },
  },
} as const;
