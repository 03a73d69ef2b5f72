/**
 * The routing plan: from the caller's language fields and text to the hops the engine runs
 * (DESIGN 1: a request uses exactly one group; English belongs to every group).
 *   en <-> xx            one hop in xx's group
 *   xx <-> yy same group one direct hop
 *   xx <-> yy otherwise  two hops pivoting through English, both reported
 *   source == target     no hop; the text comes back unchanged
 * `runHops` runs a plan's hops in order; the server and the translate command both use it.
 */
import type { DecodingOptions, TranslationItem, TranslationOutput } from '../engine/types.ts';
import { XalmaError } from '../errors.ts';
import type { Detection, Detector } from './detect.ts';
import { UNDETERMINED } from './detect.ts';
import { ENGLISH, type GroupTable } from './groups.ts';
import { normalizeLanguage } from './normalize.ts';
import { languageName } from './table.ts';

export interface Hop {
  from: string;
  to: string;
  group: number;
}

export interface Plan {
  source: string;
  sourceVariant?: string;
  target: string;
  targetVariant?: string;
  /** The detector's answer, present whenever detection ran (always when text is non-empty). */
  detected?: Detection;
  /** Set when a declared source disagrees with a confident detection; the declared source is used. */
  mismatch?: { detected: string };
  identity: boolean;
  hops: Hop[];
}

export interface PlanArgs {
  /** Raw user value; undefined, empty or 'auto' means detect. */
  source?: string;
  /** Raw user value. */
  target: string;
  text: string;
  groups: GroupTable;
  /** Needed when the source is to be detected; with a declared source and none, no mismatch check. */
  detector?: Detector;
}

/**
 * Detection confidence from which a declared source that disagrees is reported as a mismatch.
 * Close pairs (id/ms, da/no) often score 0.5-0.7 on short text; reporting those would cry wolf.
 */
export const MISMATCH_MIN_CONFIDENCE = 0.8;

/** 'auto' in any case, with or without surrounding spaces. */
function isAutoWord(value: string): boolean {
  return value.trim().toLowerCase() === 'auto';
}

/** A source field that asks for detection: undefined, empty, or 'auto'. */
export function isAutoSource(source: string | undefined): boolean {
  return source === undefined || (typeof source === 'string' && (source.trim() === '' || isAutoWord(source)));
}

function groupFor(code: string, groups: GroupTable): number {
  const g = groups.groupOf(code);
  if (g === undefined) {
    throw new XalmaError('LANGUAGE_NOT_IN_MODEL', code, { language: code, available: [...groups.languages] });
  }
  return g;
}

/** Hops for a pair of canonical codes; throws LANGUAGE_NOT_IN_MODEL when a side has no group. */
export function planHops(source: string, target: string, groups: GroupTable): Hop[] {
  if (source === target) return [];
  if (source === ENGLISH) return [{ from: source, to: target, group: groupFor(target, groups) }];
  const sourceGroup = groupFor(source, groups);
  if (target === ENGLISH) return [{ from: source, to: target, group: sourceGroup }];
  const targetGroup = groupFor(target, groups);
  if (sourceGroup === targetGroup) return [{ from: source, to: target, group: sourceGroup }];
  return [
    { from: source, to: ENGLISH, group: sourceGroup },
    { from: ENGLISH, to: target, group: targetGroup },
  ];
}

export function planTranslation(args: PlanArgs): Plan {
  const { groups, detector } = args;
  if (typeof args.target === 'string' && isAutoWord(args.target)) {
    throw new XalmaError('LANGUAGE_INVALID', "the target cannot be 'auto'", { input: args.target });
  }
  const target = normalizeLanguage(args.target);
  const text = typeof args.text === 'string' ? args.text : '';

  let source: string;
  let sourceVariant: string | undefined;
  let detected: Detection | undefined;
  let mismatch: { detected: string } | undefined;
  if (isAutoSource(args.source)) {
    if (!detector) throw new Error('planTranslation: the source is to be detected but no detector was given');
    detected = detector.detect(text);
    if (detected.language === UNDETERMINED) {
      throw new XalmaError('SOURCE_UNDETECTED', undefined, { detected });
    }
    source = detected.language;
  } else {
    const declared = normalizeLanguage(args.source as string);
    source = declared.code;
    sourceVariant = declared.variant;
    // The caller's word wins; detection only annotates the plan.
    if (detector && text.trim().length > 0) {
      detected = detector.detect(text);
      if (detected.language !== UNDETERMINED && detected.language !== source && detected.confidence >= MISMATCH_MIN_CONFIDENCE) {
        mismatch = { detected: detected.language };
      }
    }
  }

  const hops = planHops(source, target.code, groups);
  const plan: Plan = { source, target: target.code, identity: hops.length === 0, hops };
  if (sourceVariant !== undefined) plan.sourceVariant = sourceVariant;
  if (target.variant !== undefined) plan.targetVariant = target.variant;
  if (detected !== undefined) plan.detected = detected;
  if (mismatch !== undefined) plan.mismatch = mismatch;
  return plan;
}

/**
 * Runs hops in order, each on the previous hop's output (a pivot plan: xx -> en, then en -> yy),
 * and returns the last output with the output tokens of all hops. `translate` runs one hop: the
 * scheduler on the server, the engine itself in the translate command. A plan without hops
 * (source == target) has nothing to run: the caller answers with the text.
 */
export async function runHops(
  hops: readonly Hop[],
  text: string,
  options: DecodingOptions,
  translate: (item: TranslationItem) => Promise<TranslationOutput>,
): Promise<TranslationOutput> {
  if (hops.length === 0) throw new Error('runHops: a plan without hops has nothing to run');
  let out: TranslationOutput | undefined;
  let outputTokens = 0;
  for (const hop of hops) {
    out = await translate({ group: hop.group, sourceName: languageName(hop.from), targetName: languageName(hop.to), text: out?.text ?? text, options });
    outputTokens += out.outputTokens;
  }
  return { ...out!, outputTokens };
}
