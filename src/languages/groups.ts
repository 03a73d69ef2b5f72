/**
 * Language groups: which LoRA module serves which language (DESIGN 1, hard gate).
 * The table is built from the model manifest so a model with other groupings works;
 * DEFAULT_GROUPS is the X-ALMA table for when no manifest is at hand.
 */
import { XalmaError } from '../errors.ts';
import { isSupported } from './table.ts';
import { XALMA_GROUPS } from '../model/xalma-groups.ts';

export interface GroupSpec {
  id: number;
  name: string;
  /** ISO 639-1 codes of the group's non-English languages ('en' is allowed and ignored). */
  languages: string[];
}

export const ENGLISH = 'en';

/** X-ALMA's table; defined once, with the package format that writes it into manifests. */
export const DEFAULT_GROUPS: readonly GroupSpec[] = Object.freeze(XALMA_GROUPS.map((g) => ({ ...g, languages: [...g.languages] })));

/** Lookup from language to its group; read-only after construction. */
export interface GroupTable {
  readonly groups: readonly GroupSpec[];
  /** Group id serving a non-English language, or undefined when the model has none. */
  groupOf(code: string): number | undefined;
  /** Languages the model can translate to or from (English included when any group exists). */
  readonly languages: readonly string[];
}

/**
 * Builds the lookup from manifest groups. Throws MODEL_MANIFEST_INVALID when a group lists an
 * unsupported code, a language sits in two groups, or ids repeat: the hard gate needs one
 * module per language.
 */
export function buildGroupTable(groups: ReadonlyArray<{ id: number; name: string; languages: readonly string[] }>): GroupTable {
  if (!Array.isArray(groups)) throw new XalmaError('MODEL_MANIFEST_INVALID', 'groups must be an array');
  const owner = new Map<string, number>();
  const ids = new Set<number>();
  const copy: GroupSpec[] = [];
  for (const g of groups) {
    if (!g || !Number.isInteger(g.id) || !Array.isArray(g.languages)) {
      throw new XalmaError('MODEL_MANIFEST_INVALID', 'each group needs an integer id and a languages array');
    }
    if (ids.has(g.id)) throw new XalmaError('MODEL_MANIFEST_INVALID', `group id ${g.id} appears twice`);
    ids.add(g.id);
    const langs: string[] = [];
    for (const code of g.languages) {
      if (code === ENGLISH) continue;
      if (typeof code !== 'string' || !isSupported(code)) {
        throw new XalmaError('MODEL_MANIFEST_INVALID', `group ${g.id} lists unsupported language ${JSON.stringify(code)}`);
      }
      const prev = owner.get(code);
      if (prev !== undefined) {
        throw new XalmaError('MODEL_MANIFEST_INVALID', `language ${code} is in groups ${prev} and ${g.id}`);
      }
      owner.set(code, g.id);
      langs.push(code);
    }
    copy.push(Object.freeze({ id: g.id, name: String(g.name), languages: langs }));
  }
  const languages = Object.freeze([...(copy.length > 0 ? [ENGLISH] : []), ...[...owner.keys()].sort()]);
  return Object.freeze({
    groups: Object.freeze(copy),
    languages,
    groupOf: (code: string) => owner.get(code),
  });
}
