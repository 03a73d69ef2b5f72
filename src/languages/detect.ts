/**
 * Source-language detection over the supported languages: script routing first, then a staged
 * weighted vote among the languages of that script: fastText (lid.176) + hand-written markers and
 * group rules (rules.ts); cld3 only when that vote's margin is small; eld and franc only when it is
 * still small. See bench/detect.ts for the measurements behind the weights and bench/results/.
 */
import { francAll } from 'franc';
import { FRANC_CODES, loadBackends, type Backend, type EngineName } from './backends.ts';
import { markerScores } from './markers.ts';
import { groupOf, ruleEvidence } from './rules.ts';
import { SCRIPT_CANDIDATES, routeScript, type Script } from './script.ts';

export interface Detection {
  /** ISO 639-1 code, or 'und' when the text carries too little language to tell. */
  language: string;
  /** In [0, 1]; 0 for 'und'. A heuristic share of the vote, not a calibrated probability. */
  confidence: number;
  /** Runner-up languages, best first (at most MAX_CANDIDATES), excluding `language`. */
  candidates: Array<{ language: string; confidence: number }>;
}

export interface Detector {
  /** Synchronous and allocation-light; all loading happened in createDetector. */
  detect(text: string): Detection;
  /** Engines this detector combines (for logs and /health). */
  readonly engines: readonly string[];
  dispose(): void;
}

export interface DetectorOptions {
  /** Engines to combine; default all four. */
  engines?: readonly EngineName[];
}

export const UNDETERMINED = 'und';
const MAX_CANDIDATES = 3;
/** Detection looks at most at this many UTF-16 units (eld and cld3 cut at about the same length). */
const MAX_TEXT = 1000;
/** Fewer letters than this (after URLs and e-mail addresses are removed) answers 'und'. */
const MIN_LETTERS = 2;

/**
 * Vote weights, chosen by grid search on the odd-numbered lines of ntrex-50 (full sentences and
 * 3-word snippets, objective 2 x sentence macro + snippet macro) and checked on the even lines;
 * bench/results/detect.md. Scores: fastText log-probability, eld log of its score relative to the
 * best candidate, franc's normalized similarity, cld3's probability for its single answer, and
 * the marker share from markers.ts.
 */
const WEIGHTS: Readonly<Record<EngineName | 'markers', number>> = { fasttext: 1, eld: 2, franc: 4, cld3: 8, markers: 4 };
/** What eld contributes for a language it has no model for (af, gl, id, kk, ky, mg, mk, ne, uz). */
const ELD_MISSING = -1;
/**
 * Per-language offsets, fitted by coordinate ascent on the odd lines (step 0.5, two passes) after
 * the weights above; on the even lines they moved snippet accuracy from 83.1% to 83.9%.
 */
const BIAS: Readonly<Record<string, number>> = {
  af: 1.5, da: 0.5, de: -0.5, is: 5, nl: 0.5, sv: 0.5, es: -1, ro: 1.5, fr: -2, mg: 3.5, vi: 3, cs: 1.5,
  hu: 0.5, lv: 3, pl: 1, et: 3, fi: 1.5, az: 3, uz: 3.5, en: -2, bg: -3.5, mk: 1, ru: -5.5, sr: -1,
  uk: -2, kk: 2, ky: 1, ar: 2.5, hi: 2, mr: -4, no: -2, ca: -1, pt: -2, ms: 1, lt: 2,
};
/**
 * Softmax temperature turning vote scores into confidences; 2 keeps a 3-word id/ms near-tie
 * (margin ~1) at ~0.6 instead of presenting it as certain.
 */
const TEMPERATURE = 2;

const URL_OR_EMAIL = /\b(?:https?:\/\/|www\.)\S+|\S+@\S+\.\S+/giu;
const WORD_SPLIT = /[^\p{L}\p{M}'ʻ’‘`·-]+/u;

/**
 * Cascade exits (margins between the best and second-best vote score, in the units above).
 * Stage 1 is fastText + markers + group rules (~40 µs for a sentence); stage 2 adds cld3; stage 3
 * adds eld and franc. Chosen on the odd lines of ntrex-50 so that accuracy equals running every
 * engine on every text while ~25% of inputs stop after stage 1 and ~87% after stage 2.
 */
const STAGE1_MARGIN = 7;
const STAGE2_MARGIN = 4;
/** Weight of the hand-written group rules (rules.ts) when the top two candidates share a group. */
const RULE_WEIGHT = 8;

function undetermined(): Detection {
  return { language: UNDETERMINED, confidence: 0, candidates: [] };
}

/** Confidence discount for little evidence: 1 from 24 letters up, 0.5 at 2 letters. */
function lengthFactor(letters: number): number {
  return Math.min(1, 0.5 + letters / 48);
}

export async function createDetector(options: DetectorOptions = {}): Promise<Detector> {
  const engines = options.engines ?? (['fasttext', 'cld3', 'eld', 'franc'] as const);
  const backends: Backend[] = await loadBackends(engines);
  const byName = new Map(backends.map((b) => [b.name, b]));
  const stage1 = byName.get('fasttext');
  const stage2 = byName.get('cld3');
  const stage3 = [byName.get('eld'), byName.get('franc')].filter((b): b is Backend => b !== undefined);
  const maxCandidates = SCRIPT_CANDIDATES.Latn.length;
  const total = new Float64Array(maxCandidates);
  const scratch = new Float64Array(maxCandidates);
  const evidence = new Float64Array(maxCandidates);

  function add(b: Backend, text: string, candidates: readonly string[], n: number): void {
    b.score(text, candidates, scratch);
    const w = WEIGHTS[b.name];
    for (let i = 0; i < n; i++) {
      const v = scratch[i];
      total[i] += Number.isNaN(v) ? (b.name === 'eld' ? ELD_MISSING : 0) : w * v;
    }
  }

  /** Index of the best total, and its margin over the runner-up. */
  function best(n: number): { index: number; margin: number } {
    let a = 0;
    let b = -1;
    for (let i = 1; i < n; i++) {
      if (total[i] > total[a]) {
        b = a;
        a = i;
      } else if (b < 0 || total[i] > total[b]) b = i;
    }
    return { index: a, margin: b < 0 ? Infinity : total[a] - total[b] };
  }

  /**
   * When the two best candidates belong to one confusable group (rules.ts), the group's rule
   * evidence is added to every member of that group; other candidates are left alone.
   */
  function applyRules(candidates: readonly string[], n: number, groupsDone: Set<readonly string[]>): void {
    let a = 0;
    let b = -1;
    for (let i = 1; i < n; i++) {
      if (total[i] > total[a]) {
        b = a;
        a = i;
      } else if (b < 0 || total[i] > total[b]) b = i;
    }
    if (b < 0) return;
    const group = groupOf(candidates[a]);
    if (!group || !group.includes(candidates[b]) || groupsDone.has(group)) return;
    groupsDone.add(group);
    for (let i = 0; i < n; i++) if (group.includes(candidates[i])) total[i] += RULE_WEIGHT * evidence[i];
  }

  function detect(input: string): Detection {
    if (typeof input !== 'string') return undetermined();
    const text = (input.length > MAX_TEXT ? input.slice(0, MAX_TEXT) : input).replace(URL_OR_EMAIL, ' ');
    const route = routeScript(text);
    if (route.script === undefined || route.letters < MIN_LETTERS || route.script === 'Other') return undetermined();
    const candidates = SCRIPT_CANDIDATES[route.script as Exclude<Script, 'Other'>];
    if (candidates.length === 1) {
      // A script of its own decides; the share of other-script letters (quotes, names) lowers it.
      return { language: candidates[0], confidence: round(lengthFactor(route.letters * 4) * route.share), candidates: [] };
    }

    const n = candidates.length;
    for (let i = 0; i < n; i++) total[i] = BIAS[candidates[i]] ?? 0;
    const lower = text.toLowerCase();
    const words = lower.split(WORD_SPLIT).filter((w) => w.length > 0);
    markerScores(words, lower, candidates, scratch);
    for (let i = 0; i < n; i++) total[i] += WEIGHTS.markers * scratch[i];
    for (let i = 0; i < n; i++) evidence[i] = groupOf(candidates[i]) ? ruleEvidence(candidates[i], words, lower) : 0;
    // Rules are applied once per group, after the stage that first puts two members on top.
    const groupsDone = new Set<readonly string[]>();

    // Stage 1: fastText (the cheapest engine) with markers and rules.
    if (stage1) {
      add(stage1, text, candidates, n);
      applyRules(candidates, n, groupsDone);
      if (best(n).margin >= STAGE1_MARGIN) return finish(candidates, total, n, route.letters, route.share);
    }
    // Stage 2: cld3.
    if (stage2) {
      add(stage2, text, candidates, n);
      applyRules(candidates, n, groupsDone);
      if (best(n).margin >= STAGE2_MARGIN) return finish(candidates, total, n, route.letters, route.share);
    }
    // Stage 3: eld and franc.
    for (const b of stage3) add(b, text, candidates, n);
    applyRules(candidates, n, groupsDone);
    return finish(candidates, total, n, route.letters, route.share);
  }

  /** Softmax over the candidates' scores, then the top entries. */
  function finish(candidates: readonly string[], total: Float64Array, n: number, letters: number, share: number): Detection {
    let max = -Infinity;
    for (let i = 0; i < n; i++) if (total[i] > max) max = total[i];
    let sum = 0;
    for (let i = 0; i < n; i++) {
      scratch[i] = Math.exp((total[i] - max) / TEMPERATURE);
      sum += scratch[i];
    }
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scratch[b] - scratch[a]);
    const scale = (lengthFactor(letters) * share) / sum;
    const best = order[0];
    return {
      language: candidates[best],
      confidence: round(scratch[best] * scale),
      candidates: order.slice(1, 1 + MAX_CANDIDATES).map((i) => ({ language: candidates[i], confidence: round(scratch[i] * scale) })),
    };
  }

  return {
    detect,
    engines: Object.freeze([...engines]),
    dispose() {
      for (const b of backends) b.dispose();
    },
  };
}

function round(x: number): number {
  return Math.round(Math.min(1, Math.max(0, x)) * 1e4) / 1e4;
}

const FRANC_ONLY = Object.values(FRANC_CODES).concat('nno');
const FRANC_BACK = new Map<string, string>(Object.entries(FRANC_CODES).map(([k, v]) => [v, k]));
FRANC_BACK.set('nno', 'no');

/**
 * franc alone, restricted to the supported languages (its own script handling, no routing or
 * markers): the baseline bench/detect.ts compares against.
 */
export function createFrancBaseline(): Detector {
  return {
    engines: ['franc'],
    dispose() {},
    detect(text: string): Detection {
      const all = francAll(text, { only: FRANC_ONLY, minLength: 1 });
      const top = all[0];
      if (!top || top[0] === 'und') return undetermined();
      const sum = all.reduce((s, [, v]) => s + v, 0) || 1;
      return {
        language: FRANC_BACK.get(top[0]) ?? UNDETERMINED,
        confidence: round(top[1] / sum),
        candidates: all.slice(1, 1 + MAX_CANDIDATES).map(([c, v]) => ({ language: FRANC_BACK.get(c) ?? UNDETERMINED, confidence: round(v / sum) })),
      };
    },
  };
}
