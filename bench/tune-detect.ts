/**
 * Refits the short-text numbers of the detector's vote (DEFAULT_TUNING in src/languages/detect.ts:
 * weightsShort, biasShort, ruleWeightShort, stage3Margin) by coordinate ascent on the odd-numbered
 * lines of ntrex-50, and reports the even lines as held out. The engines run once per text (their
 * scores are memoized), so one evaluation of the vote over 50k texts takes about a second.
 *
 *   npx tsx bench/tune-detect.ts [--passes 3]
 *
 * Prints the fitted tables; paste them into DEFAULT_TUNING by hand and rerun bench/detect.ts.
 * Objective: 3-word macro + 0.5 x sentence macro on the odd lines, sentences kept >= 99%.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_ENGINES, DEFAULT_TUNING, LANGUAGES, createDetector, type Detector, type DetectorTuning } from '../src/languages/index.ts';
import { loadBackends, type Backend } from '../src/languages/backends.ts';
import { firstWords, ntrexDir, readNtrex } from './lib/evaluation.ts';
import { SCRIPT_CANDIDATES } from '../src/languages/script.ts';
import { CONFUSABLE_GROUPS } from '../src/languages/rules.ts';

const { values: args } = parseArgs({ options: { passes: { type: 'string', default: '3' } } });
const codes = LANGUAGES.map((l) => l.code);
const data = readNtrex(codes);
if (!data || data.size === 0) {
  console.log(`skipped: ${ntrexDir()} is absent (NTREX-50 lives beside the repo in ../shared/data)`);
  process.exit(0);
}

/** Wraps an engine so each distinct (text, candidates) is scored once. */
function memoize(b: Backend): Backend {
  const memo = new Map<string, Float64Array>();
  return {
    name: b.name,
    score(text, candidates, out) {
      const key = `${candidates.join(',')}\n${text}`;
      let v = memo.get(key);
      if (!v) {
        b.score(text, candidates, out);
        v = out.slice(0, candidates.length);
        memo.set(key, v);
      }
      out.set(v);
    },
    dispose() {},
  };
}

const loaded = await loadBackends(DEFAULT_ENGINES);
for (const b of loaded) b.preload?.();
const backends = loaded.map(memoize);
interface Item {
  code: string;
  text: string;
  snippet: boolean;
  odd: boolean;
}
const items: Item[] = [];
for (const [code, lines] of data) {
  lines.forEach((line, i) => {
    // Line numbers are 1-based: index 0 is line 1, an odd line.
    const odd = i % 2 === 0;
    items.push({ code, text: line, snippet: false, odd }, { code, text: firstWords(line, 3, code), snippet: true, odd });
  });
}

interface Score {
  objective: number;
  sentences: number;
  snippets: number;
}

/** Macro accuracies over one half of the lines. */
function evaluate(detector: Detector, odd: boolean): Score {
  const hits = new Map<string, [number, number, number, number]>();
  for (const it of items) {
    if (it.odd !== odd) continue;
    const h = hits.get(it.code) ?? [0, 0, 0, 0];
    hits.set(it.code, h);
    const ok = detector.detect(it.text).language === it.code ? 1 : 0;
    if (it.snippet) {
      h[2] += ok;
      h[3]++;
    } else {
      h[0] += ok;
      h[1]++;
    }
  }
  let sentences = 0;
  let snippets = 0;
  for (const [s, sn, w, wn] of hits.values()) {
    sentences += s / sn;
    snippets += w / wn;
  }
  sentences /= hits.size;
  snippets /= hits.size;
  return { objective: sentences >= 0.99 ? snippets + 0.5 * sentences : -1, sentences, snippets };
}

async function score(tuning: DetectorTuning, odd = true): Promise<Score> {
  const detector = await createDetector({ backends, tuning });
  return evaluate(detector, odd);
}

/** One coordinate: a getter/setter pair over a copy of the tuning, with its step. */
interface Coordinate {
  name: string;
  step: number;
  get(t: DetectorTuning): number;
  with(t: DetectorTuning, v: number): DetectorTuning;
}

function tableCoordinate(table: 'weightsShort' | 'biasShort' | 'ruleWeightShort', key: string, step: number): Coordinate {
  return {
    name: `${table}.${key}`,
    step,
    get: (t) => (t[table] as Record<string, number>)[key] ?? 0,
    with: (t, v) => ({ ...t, [table]: { ...t[table], [key]: v } }),
  };
}

const multi = [...SCRIPT_CANDIDATES.Latn, ...SCRIPT_CANDIDATES.Cyrl, ...SCRIPT_CANDIDATES.Arab, ...SCRIPT_CANDIDATES.Deva];
const coordinates: Coordinate[] = [
  ...Object.keys(DEFAULT_TUNING.weightsShort).filter((k) => k !== 'fasttext').map((k) => tableCoordinate('weightsShort', k, 0.5)),
  ...CONFUSABLE_GROUPS.map((g) => tableCoordinate('ruleWeightShort', g[0], 1)),
  ...multi.map((c) => tableCoordinate('biasShort', c, 0.5)),
];

let tuning = DEFAULT_TUNING;
let t0 = performance.now();
let current = await score(tuning);
const fmt = (s: Score) => `sentences ${(100 * s.sentences).toFixed(2)}, 3-word ${(100 * s.snippets).toFixed(2)}`;
console.log(`start (odd lines): ${fmt(current)}; first evaluation ${(performance.now() - t0).toFixed(0)} ms`);
t0 = performance.now();
for (let pass = 0; pass < Number(args.passes); pass++) {
  let moved = 0;
  for (const c of coordinates) {
    for (const dir of [1, -1]) {
      let improved = true;
      while (improved) {
        const next = c.with(tuning, Math.round((c.get(tuning) + dir * c.step) * 100) / 100);
        if (c.name.startsWith('weights') && c.get(next) < 0) break;
        const s = await score(next);
        improved = s.objective > current.objective + 1e-9;
        if (improved) {
          tuning = next;
          current = s;
          moved++;
          console.log(`  ${c.name} -> ${c.get(tuning)}: ${fmt(current)}`);
        }
      }
    }
  }
  console.log(`pass ${pass + 1}: ${moved} moves, ${fmt(current)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  if (moved === 0) break;
}

const held = await score(tuning, false);
const heldBefore = await score(DEFAULT_TUNING, false);
console.log(`held out (even lines): before ${fmt(heldBefore)}; after ${fmt(held)}`);
const clean = (r: Readonly<Record<string, number>>) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== 0));
console.log(JSON.stringify({ weightsShort: tuning.weightsShort, biasShort: clean(tuning.biasShort), ruleWeightShort: tuning.ruleWeightShort }, null, 1));
