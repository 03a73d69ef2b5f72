/**
 * Helpers shared by bench/detect.ts and the detection tests: reading the NTREX-50 slice from
 * ../shared/data (never copied into the repo) and cutting the 3-word snippets the targets use.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Languages segmented with Intl.Segmenter because they do not separate words with spaces. */
const SEGMENTED = new Set(['zh', 'ja', 'th']);

/** The first n words: whitespace-separated tokens, or Intl.Segmenter word-like segments for zh/ja/th. */
export function firstWords(text: string, n: number, language: string): string {
  const trimmed = text.trim();
  if (!SEGMENTED.has(language)) return trimmed.split(/\s+/).slice(0, n).join(' ');
  const segmenter = new Intl.Segmenter(language, { granularity: 'word' });
  let seen = 0;
  let end = 0;
  for (const s of segmenter.segment(trimmed)) {
    if (!s.isWordLike) continue;
    seen++;
    end = s.index + s.segment.length;
    if (seen === n) break;
  }
  return trimmed.slice(0, end);
}

/** Path of the NTREX-50 folder beside the repository (../shared/data/ntrex-50). */
export function ntrexDir(): string {
  return fileURLToPath(new URL('../../../shared/data/ntrex-50', import.meta.url));
}

/** Reads `<dir>/<code>.txt` for each code (non-empty lines); undefined when the folder is absent. */
export function readNtrex(codes: readonly string[], dir = ntrexDir()): Map<string, string[]> | undefined {
  if (!existsSync(dir)) return undefined;
  const out = new Map<string, string[]>();
  for (const code of codes) {
    const file = `${dir}/${code}.txt`;
    if (!existsSync(file)) continue;
    out.set(code, readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l.length > 0));
  }
  return out;
}
