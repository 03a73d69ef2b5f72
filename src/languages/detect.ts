/**
 * Source-language detection over the supported languages: script routing first, then a staged
 * weighted vote among the languages of that script: fastText (lid.176) + hand-written markers and
 * group rules (rules.ts); cld3 only when that vote's margin is small; eld and franc only when it is
 * still small; for short texts still in doubt, lingua over the best three. See bench/detect.ts for
 * the measurements behind the weights (bench/tune-detect.ts refits them) and bench/results/.
 */
import { setImmediate } from 'node:timers/promises';
import { francAll } from 'franc';
import { FRANC_CODES, FROM_FRANC, LINGUA_MIN_CONFIDENCE, loadBackends, type Backend, type EngineName } from './backends.ts';
import { DEFAULT_ENGINES } from './engine-names.ts';
import { markerScores } from './markers.ts';
import { confusableGroupOf, ruleEvidence } from './rules.ts';
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
  /**
   * Loads every lazily loaded model now (lingua's: about 9 s, blocking), so no request pays for
   * it later; idempotent. The server calls it while the engine worker starts.
   */
  preload(): void;
  /**
   * preload() in steps with the event loop free between them (each step about 100-300 ms), for
   * a server that already answers /health while it loads. Stops between steps once `signal`
   * is aborted (shutdown during start-up).
   */
  preloadInSteps(signal?: AbortSignal): Promise<void>;
  dispose(): void;
}

export interface DetectorOptions {
  /** Engines to combine; default all five (DEFAULT_ENGINES). */
  engines?: readonly EngineName[];
  /** Already loaded engines to use instead of loading `engines` (bench/tune-detect.ts memoizes them). */
  backends?: readonly Backend[];
  /** Calls preload() before returning. */
  preload?: boolean;
  /** Replaces DEFAULT_TUNING (refitting only). */
  tuning?: DetectorTuning;
}

export const UNDETERMINED = 'und';
const MAX_CANDIDATES = 3;
/** Detection looks at most at this many UTF-16 units (eld cuts at about the same length, cld3 at 300 bytes). */
const MAX_TEXT = 1000;
/** Fewer letters than this (after URLs and e-mail addresses are removed) answers 'und'. */
const MIN_LETTERS = 2;

type WeightName = EngineName | 'markers';

/**
 * Every number the vote combines with, in one object so bench/tune-detect.ts can refit them.
 * DEFAULT_TUNING holds the values chosen by coordinate ascent on the odd-numbered lines of
 * ntrex-50 (objective: 3-word macro + 0.5 x sentence macro, with sentences >= 99% on the odd
 * lines), checked on the even lines; bench/results/detect.md.
 *
 * Scores combined: fastText log-probability, eld log of its score relative to the best
 * candidate, franc's normalized similarity, cld3's probability for its single answer, lingua's
 * log-confidence, and the marker share from markers.ts.
 */
export interface DetectorTuning {
  weights: Readonly<Record<WeightName, number>>;
  /** Texts under SHORT_LETTERS letters (3-word snippets, short queries) use their own weights. */
  weightsShort: Readonly<Record<WeightName, number>>;
  /** Per-language offsets: they correct the engines' systematic preferences (fastText and cld3 favour id over ms, ...). */
  bias: Readonly<Record<string, number>>;
  /** Added to `bias` for short texts. */
  biasShort: Readonly<Record<string, number>>;
  /**
   * Weight of the hand-written group rules (rules.ts) when the top two candidates share a group,
   * per group (keyed by the group's first language).
   */
  ruleWeight: Readonly<Record<string, number>>;
  ruleWeightShort: Readonly<Record<string, number>>;
  /**
   * Cascade exits: margins between the best and second-best vote score. Stage 1 is fastText +
   * markers + rules (~40 µs for a sentence), stage 2 adds cld3, stage 3 eld and franc; stage 4
   * (lingua over the best three, short texts only, ~100 µs) runs when stage 3 ends below
   * `stage3Margin` (a smaller exit halves its calls for 0.08 point on 3-word snippets).
   */
  stage1Margin: number;
  stage2Margin: number;
  stage3Margin: number;
}

export const DEFAULT_TUNING: DetectorTuning = {
  weights: { fasttext: 1, eld: 9, franc: 6, cld3: 6, markers: 4, lingua: 0 },
  weightsShort: { fasttext: 1, eld: 23.5, franc: 6, cld3: 4, markers: 3, lingua: 3 },
  bias: {
    af: 4, ar: -0.5, az: 4.5, bg: -4.5, ca: -2.5, cs: 2, da: -0.5, de: -2, en: -4.5, es: -2.5, et: 3.5, fa: -1,
    fi: 1.5, fr: -2.5, gl: 0.5, hu: 2.5, id: 1, is: 7.5, it: -1.5, kk: 0.5, ky: 3, lt: 4.5, lv: 4.5, mg: 6,
    mk: -2.5, mr: -1.5, ms: 1, ne: 3, nl: -2.5, no: -2.5, pl: 2, ro: 0.5, ru: -2, sr: -2, tr: 0.5, uk: -2.5,
    ur: 2.5, uz: 6, vi: 3.5,
  },
  biasShort: {
    af: -1.5, az: 2, ca: 2.5, cs: 0.5, da: -1, en: -2, et: 1, fi: 0.5, fr: 1.5, gl: -0.5, hi: 1, hu: -0.5, id: -2,
    is: 0.5, it: -1.5, kk: -1, lt: -1, lv: 1.5, mg: -3.5, mk: 0.5, mr: 0.5, ms: -1, no: 0.5, pl: -1, ro: 1.5,
    ru: -0.5, sr: 1, sv: 0.5, tr: 1.5, uk: 1, uz: 0.5,
  },
  ruleWeight: { id: 6, da: 5, gl: 2, af: 7, hi: 11, uz: 3, ru: 2, kk: 10, ar: 3 },
  ruleWeightShort: { id: 8, da: 2, gl: 6, af: 7, hi: 13, uz: 5, ru: 3, kk: 11, ar: 1 },
  stage1Margin: 7,
  stage2Margin: 5,
  stage3Margin: 4,
};

/** Texts with fewer letters than this use the short-text tables (the engines' reliability differs a lot between a sentence and 3 words). */
const SHORT_LETTERS = 30;
const RULE_WEIGHT_DEFAULT = 5;
/** How many of the vote's best candidates lingua weighs, and the score the others get from it. */
const LINGUA_TOP = 3;
const LINGUA_FLOOR = Math.log(LINGUA_MIN_CONFIDENCE);
/** What eld or lingua contributes for a language it has no model for and no proxy (mg). */
const MISSING_SCORE = -1;
/**
 * eld and lingua have no model for some of our languages. Instead of a fixed penalty (which
 * pushed every id text toward ms, gl toward pt, af toward nl), such a language gets the best
 * score among its close relatives: the engine then says nothing about the pair, and the other
 * engines and rules decide.
 */
const PROXY: Readonly<Record<string, readonly string[]>> = {
  id: ['ms'], gl: ['pt', 'es'], af: ['nl'], mk: ['bg', 'sr'], ne: ['hi', 'mr'], uz: ['tr', 'az'], kk: ['ru'], ky: ['kk', 'ru'],
};
/**
 * Softmax temperature turning vote scores into confidences; 2 keeps a 3-word id/ms near-tie
 * (margin ~1) at ~0.6 instead of presenting it as certain.
 */
const TEMPERATURE = 2;

const URL_OR_EMAIL = /\b(?:https?:\/\/|www\.)\S+|\S+@\S+\.\S+/giu;
const WORD_SPLIT = /[^\p{L}\p{M}'ʻ’‘`·-]+/u;

function undetermined(): Detection {
  return { language: UNDETERMINED, confidence: 0, candidates: [] };
}

/** Confidence discount for little evidence: 1 from 24 letters up, 0.5 at 2 letters. */
function lengthFactor(letters: number): number {
  return Math.min(1, 0.5 + letters / 48);
}

export async function createDetector(options: DetectorOptions = {}): Promise<Detector> {
  const backends = options.backends ?? (await loadBackends(options.engines ?? DEFAULT_ENGINES));
  const engines = backends.map((b) => b.name);
  const tuning = options.tuning ?? DEFAULT_TUNING;
  const byName = new Map(backends.map((b) => [b.name, b]));
  const stage1 = byName.get('fasttext');
  const stage2 = byName.get('cld3');
  const stage3 = [byName.get('eld'), byName.get('franc')].filter((b): b is Backend => b !== undefined);
  const stage4 = byName.get('lingua');
  const maxCandidates = SCRIPT_CANDIDATES.Latn.length;
  const total = new Float64Array(maxCandidates);
  const scratch = new Float64Array(maxCandidates);

  /**
   * Adds engine b's weighted scores. With `slots`, `candidates` is a subset and slots[i] is the
   * index of candidates[i] in the vote.
   */
  function add(b: Backend, text: string, candidates: readonly string[], n: number, short: boolean, slots?: readonly number[]): void {
    b.score(text, candidates, scratch);
    const w = (short ? tuning.weightsShort : tuning.weights)[b.name];
    for (let i = 0; i < n; i++) {
      const slot = slots ? slots[i] : i;
      let v = scratch[i];
      if (Number.isNaN(v) && (b.name === 'eld' || b.name === 'lingua')) {
        const proxies = PROXY[candidates[i]];
        if (proxies) {
          for (const p of proxies) {
            const j = candidates.indexOf(p);
            if (j >= 0 && !Number.isNaN(scratch[j]) && !(v >= scratch[j])) v = scratch[j];
          }
        }
        if (Number.isNaN(v)) {
          total[slot] += MISSING_SCORE;
          continue;
        }
      }
      total[slot] += Number.isNaN(v) ? 0 : w * v;
    }
  }

  /**
   * Stage 4: lingua weighs only the vote's LINGUA_TOP best candidates (its cost grows with the
   * number of languages: ~40 µs for 3, ~210 µs for all 27 Latin ones); the others get its floor.
   */
  function addLingua(b: Backend, text: string, candidates: readonly string[], n: number, short: boolean): void {
    const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => total[y] - total[x]);
    const top = order.slice(0, LINGUA_TOP);
    const floor = tuning.weightsShort.lingua * LINGUA_FLOOR;
    for (const i of order.slice(LINGUA_TOP)) total[i] += floor;
    add(b, text, top.map((i) => candidates[i]), top.length, short, top);
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
    const group = confusableGroupOf(candidates[a]);
    if (!group || !group.includes(candidates[b]) || groupsDone.has(group)) return;
    groupsDone.add(group);
    const weight = (short ? tuning.ruleWeightShort[group[0]] : undefined) ?? tuning.ruleWeight[group[0]] ?? RULE_WEIGHT_DEFAULT;
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
    for (let i = 0; i < n; i++) total[i] = (tuning.bias[candidates[i]] ?? 0) + (short ? tuning.biasShort[candidates[i]] ?? 0 : 0);
    const lower = text.toLowerCase();
    const words = lower.split(WORD_SPLIT).filter((w) => w.length > 0);
    markerScores(words, lower, candidates, scratch);
    const markerWeight = (short ? tuning.weightsShort : tuning.weights).markers;
    for (let i = 0; i < n; i++) total[i] += markerWeight * scratch[i];
    // Rules are applied once per group, after the stage that first puts two members on top.
    const groupsDone = new Set<readonly string[]>();

    // Stage 1: fastText (the cheapest engine) with markers and rules.
    if (stage1) {
      add(stage1, text, candidates, n, short);
      applyRules(candidates, n, groupsDone, words, lower, short);
      if (best(n).margin >= tuning.stage1Margin) return finish(candidates, total, n, route.letters, route.share);
    }
    // Stage 2: cld3.
    if (stage2) {
      add(stage2, text, candidates, n, short);
      applyRules(candidates, n, groupsDone, words, lower, short);
      if (best(n).margin >= tuning.stage2Margin) return finish(candidates, total, n, route.letters, route.share);
    }
    // Stage 3: eld and franc.
    for (const b of stage3) add(b, text, candidates, n, short);
    applyRules(candidates, n, groupsDone, words, lower, short);
    // Stage 4: lingua, for short texts still in doubt.
    if (stage4 && short && best(n).margin < tuning.stage3Margin) {
      addLingua(stage4, text, candidates, n, short);
      applyRules(candidates, n, groupsDone, words, lower, short);
    }
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

  function preload(): void {
    for (const b of backends) b.preload?.();
  }
  async function preloadInSteps(signal?: AbortSignal): Promise<void> {
    for (const b of backends) {
      for (const step of b.preloadSteps?.() ?? [() => b.preload?.()]) {
        if (signal?.aborted) return;
        step();
        await setImmediate();
      }
    }
  }
  if (options.preload) preload();

  return {
    detect,
    preload,
    preloadInSteps,
    engines: Object.freeze(engines),
    dispose() {
      if (!options.backends) for (const b of backends) b.dispose();
    },
  };
}

function round(x: number): number {
  return Math.round(Math.min(1, Math.max(0, x)) * 1e4) / 1e4;
}

const FRANC_ONLY = Object.values(FRANC_CODES).concat('nno');

/**
 * franc alone, restricted to the supported languages (its own script handling, no routing or
 * markers): the baseline bench/detect.ts compares against.
 */
export function createFrancBaseline(): Detector {
  return {
    engines: ['franc'],
    preload() {},
    async preloadInSteps() {},
    dispose() {},
    detect(text: string): Detection {
      const all = francAll(text, { only: FRANC_ONLY, minLength: 1 });
      const top = all[0];
      if (!top || top[0] === 'und') return undetermined();
      const sum = all.reduce((s, [, v]) => s + v, 0) || 1;
      return {
        language: FROM_FRANC.get(top[0]) ?? UNDETERMINED,
        confidence: round(top[1] / sum),
        candidates: all.slice(1, 1 + MAX_CANDIDATES).map(([c, v]) => ({ language: FROM_FRANC.get(c) ?? UNDETERMINED, confidence: round(v / sum) })),
      };
    },
  };
}
