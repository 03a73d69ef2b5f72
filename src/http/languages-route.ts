/**
 * GET /v1/languages: the languages this model serves, its groups, and the pairs it serves
 * directly (one module); every other pair of listed languages runs through the pivot.
 * Computed once from the manifest and the planner's hop rule, so it agrees with /v1/translate.
 */
import type { FastifyInstance } from 'fastify';
import type { Manifest } from '../model/manifest-types.ts';
import { LANGUAGES, planHops, type GroupTable } from '../languages/index.ts';
import { errorResponses } from './errors.ts';

export const languagesSchema = {
  summary: 'Languages, groups and pairs this model serves',
  tags: ['languages'],
  response: {
    200: {
      type: 'object',
      required: ['languages', 'groups', 'pairs', 'pivot'],
      properties: {
        languages: {
          type: 'array',
          items: {
            type: 'object',
            required: ['code', 'name', 'groups'],
            properties: {
              code: { type: 'string', description: 'ISO 639-1' },
              iso3: { type: 'string', description: 'ISO 639-3' },
              name: { type: 'string' },
              groups: { type: 'array', items: { type: 'integer' }, description: 'Groups whose module covers the language (English: all)' },
            },
          },
        },
        groups: {
          type: 'array',
          items: {
            type: 'object',
            required: ['id', 'name', 'languages'],
            properties: { id: { type: 'integer' }, name: { type: 'string' }, languages: { type: 'array', items: { type: 'string' } } },
          },
        },
        pairs: {
          type: 'array',
          description: 'Pairs served in one hop by one group module',
          items: {
            type: 'object',
            required: ['source', 'target', 'group'],
            properties: { source: { type: 'string' }, target: { type: 'string' }, group: { type: 'integer' } },
          },
        },
        pivot: { type: 'string', description: 'Every other pair of listed languages is translated through this language (two hops)' },
      },
    },
    ...errorResponses,
  },
} as const;

export function describeLanguages(manifest: Manifest, groups: GroupTable) {
  const groupsOf = new Map<string, number[]>();
  for (const g of manifest.groups) {
    for (const code of ['en', ...g.languages]) groupsOf.set(code, [...(groupsOf.get(code) ?? []), g.id]);
  }
  const languages = LANGUAGES.filter((l) => groupsOf.has(l.code)).map((l) => ({ code: l.code, iso3: l.iso3, name: l.name, groups: groupsOf.get(l.code)! }));
  const pairs: Array<{ source: string; target: string; group: number }> = [];
  for (const s of languages) {
    for (const t of languages) {
      if (s.code === t.code) continue;
      const hops = planHops(s.code, t.code, groups);
      if (hops.length === 1) pairs.push({ source: s.code, target: t.code, group: hops[0].group });
    }
  }
  return {
    languages,
    groups: manifest.groups.map((g) => ({ id: g.id, name: g.name, languages: [...g.languages] })),
    pairs,
    pivot: 'en',
  };
}

export async function languagesRoute(app: FastifyInstance, opts: { catalog: ReturnType<typeof describeLanguages> }): Promise<void> {
  app.get('/v1/languages', { schema: languagesSchema }, async () => opts.catalog);
}
