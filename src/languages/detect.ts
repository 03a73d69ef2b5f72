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
 * Vote weights, chosen by coordinate ascent on the odd-numbered lines of ntrex-50 (full sentences
 * and 3-word snippets, replaying dumped engine scores; last refit: snippet macro + 0.5 x sentence macro,
 * subject to sentence macro >= 99% on the odd lines) and checked on the even lines; bench/results/detect.md. Refitted together with the offsets, the
 * rule weights and the short-text tables below after the group rules were extended. Scores: fastText log-probability, eld log of its score relative to the
 * best candidate, franc's normalized similarity, cld3's probability for its single answer, and
 * the marker share from markers.ts.
 */
const WEIGHTS: Readonly<Record<EngineName | 'markers', number>> = { fasttext: 1, eld: 9, franc: 6, cld3: 6, markers: 4 };
/**
 * Texts with fewer letters than this (3-word snippets, short queries) use their own weights and
 * offset corrections: the engines' reliability differs a lot between a sentence and 3 words.
 */
const SHORT_LETTERS = 30;
const WEIGHTS_SHORT: Readonly<Record<EngineName | 'markers', number>> = { fasttext: 1, eld: 21, franc: 5, cld3: 5.5, markers: 3.5 };
/** Added to BIAS for short texts. */
const BIAS_SHORT: Readonly<Record<string, number>> = {
  af: -0.5, az: 0.5, ca: 1, da: -0.5, de: -0.5, en: -0.5, es: 1, et: 0.5, hu: 0.5, id: -2, is: -1, lt: -0.5,
  lv: 1.5, mg: -1, mk: 1, ms: -1, nl: -1, no: 1, pl: -1, vi: -1,
};
/** What eld contributes for a language it has no model for and no proxy (mg). */
const ELD_MISSING = -1;
/**
 * eld has no model for these languages. Instead of a fixed penalty (which pushed every id text
 * toward ms, gl toward pt, af toward nl), such a language gets the best eld score among its
 * close relatives: eld then says nothing about the pair, and the other engines and rules decide.
 */
const ELD_PROXY: Readonly<Record<string, readonly string[]>> = {
  id: ['ms'], gl: ['pt', 'es'], af: ['nl'], mk: ['bg', 'sr'], ne: ['hi', 'mr'], uz: ['tr', 'az'], kk: ['ru'], ky: ['ru'],
};
/**
 * Per-language offsets, fitted by coordinate ascent on the odd lines (step 0.5) with the weights
 * above; they mostly correct engines' systematic preferences (fastText and cld3 favour id over ms,
 * eld and franc lack is/gl/af, ...).
 */
const BIAS: Readonly<Record<string, number>> = {
  af: 4, ar: -0.5, az: 4.5, bg: -4.5, ca: -2.5, cs: 2, da: -0.5, de: -2, en: -4.5, es: -2.5, et: 3.5, fa: -1,
  fi: 1.5, fr: -2.5, gl: 0.5, hu: 2.5, id: 1, is: 7.5, it: -1.5, kk: 0.5, ky: 3, lt: 4.5, lv: 4.5, mg: 6,
  mk: -2.5, mr: -1.5, ms: 1, ne: 3, nl: -2.5, no: -2.5, pl: 2, ro: 0.5, ru: -2, sr: -2, tr: 0.5, uk: -2.5,
  ur: 2.5, uz: 6, vi: 3.5,
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
 * adds eld and franc. Chosen on the odd lines of ntrex-50 under the speed budget (>= 5k sentences/s):
 * larger exits buy no sentence accuracy and < 0.1 point on snippets for ~25% more time.
 */
const STAGE1_MARGIN = 7;
const STAGE2_MARGIN = 5;
/**
 * Weight of the hand-written group rules (rules.ts) when the top two candidates share a group,
 * per group (keyed by the group's first language); chosen on the odd lines like the rest.
 */
const RULE_WEIGHT: Readonly<Record<string, number>> = { id: 6, da: 5, gl: 2, af: 7, hi: 11, uz: 3, ru: 2, kk: 10, ar: 3 };
/** The same for short texts (SHORT_LETTERS). */
const RULE_WEIGHT_SHORT: Readonly<Record<string, number>> = { id: 8, da: 3, gl: 2, af: 10, hi: 11, uz: 3, ru: 5, kk: 11, ar: 3 };
const RULE_WEIGHT_DEFAULT = 5;

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

  function add(b: Backend, text: string, candidates: readonly string[], n: number, short: boolean): void {
    b.score(text, candidates, scratch);
    const w = (short ? WEIGHTS_SHORT : WEIGHTS)[b.name];
    for (let i = 0; i < n; i++) {
      let v = scratch[i];
      if (Number.isNaN(v) && b.name === 'eld') {
        const proxies = ELD_PROXY[candidates[i]];
        if (proxies) {
          for (const p of proxies) {
            const j = candidates.indexOf(p);
            if (j >= 0 && !Number.isNaN(scratch[j]) && !(v >= scratch[j])) v = scratch[j];
          }
        }
        if (Number.isNaN(v)) {
          total[i] += ELD_MISSING;
          continue;
        }
      }
      total[i] += Number.isNaN(v) ? 0 : w * v;
    }
  }

  /** Index of the best total, the runner-up's index (-1 if none), and the margin between them. */
  function best(n: number): { index: number; runnerUp: number; margin: number } {
    let a = 0;
    let b = -1;
    for (let i = 1; i < n; i++) {
      if (total[i] > total[a]) {
        b = a;
        a = i;
      } else if (b < 0 || total[i] > total[b]) b = i;
    }
    return { index: a, runnerUp: b, margin: b < 0 ? Infinity : total[a] - total[b] };
  }

  /**
   * When the two best candidates belong to one confusable group (rules.ts), the group's rule
   * evidence is added to every member of that group; other candidates are left alone.
   */
  function applyRules(
    candidates: readonly string[],
    n: number,
    groupsDone: Set<readonly string[]>,
    words: readonly string[],
    lower: string,
    short: boolean,
  ): void {
    const { index: a, runnerUp: b } = best(n);
    if (b < 0) return;
    const group = groupOf(candidates[a]);
    if (!group || !group.includes(candidates[b]) || groupsDone.has(group)) return;
    groupsDone.add(group);
    const weight = (short ? RULE_WEIGHT_SHORT[group[0]] : undefined) ?? RULE_WEIGHT[group[0]] ?? RULE_WEIGHT_DEFAULT;
    // Evidence is computed here, for the group's members only: most texts never need it.
    for (let i = 0; i < n; i++) if (group.includes(candidates[i])) total[i] += weight * ruleEvidence(candidates[i], words, lower);
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
    const short = route.letters < SHORT_LETTERS;
    for (let i = 0; i < n; i++) total[i] = (BIAS[candidates[i]] ?? 0) + (short ? BIAS_SHORT[candidates[i]] ?? 0 : 0);
    const lower = text.toLowerCase();
    const words = lower.split(WORD_SPLIT).filter((w) => w.length > 0);
    markerScores(words, lower, candidates, scratch);
    const markerWeight = (short ? WEIGHTS_SHORT : WEIGHTS).markers;
    for (let i = 0; i < n; i++) total[i] += markerWeight * scratch[i];
    // Rules are applied once per group, after the stage that first puts two members on top.
    const groupsDone = new Set<readonly string[]>();

    // Stage 1: fastText (the cheapest engine) with markers and rules.
    if (stage1) {
      add(stage1, text, candidates, n, short);
      applyRules(candidates, n, groupsDone, words, lower, short);
      if (best(n).margin >= STAGE1_MARGIN) return finish(candidates, total, n, route.letters, route.share);
    }
    // Stage 2: cld3.
    if (stage2) {
      add(stage2, text, candidates, n, short);
      applyRules(candidates, n, groupsDone, words, lower, short);
      if (best(n).margin >= STAGE2_MARGIN) return finish(candidates, total, n, route.letters, route.share);
    }
    // Stage 3: eld and franc.
    for (const b of stage3) add(b, text, candidates, n, short);
    applyRules(candidates, n, groupsDone, words, lower, short);
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
