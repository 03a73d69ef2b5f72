import type { ManifestGroup } from './manifest-types.ts';

/** X-ALMA's eight groups (DESIGN 1); English belongs to every group. */
export const XALMA_GROUPS: Array<Omit<ManifestGroup, 'module'>> = [
  { id: 1, name: 'Germanic', languages: ['af', 'da', 'de', 'is', 'nl', 'no', 'sv'] },
  { id: 2, name: 'Romance', languages: ['ca', 'es', 'gl', 'it', 'pt', 'ro'] },
  { id: 3, name: 'East/South Slavic', languages: ['bg', 'mk', 'ru', 'sr', 'uk'] },
  { id: 4, name: 'Southeast Asian (+fr)', languages: ['fr', 'id', 'mg', 'ms', 'th', 'vi'] },
  { id: 5, name: 'Central/Eastern European', languages: ['cs', 'el', 'hu', 'lt', 'lv', 'pl'] },
  { id: 6, name: 'Eurasian mix', languages: ['et', 'fi', 'ja', 'ka', 'ko', 'zh'] },
  { id: 7, name: 'Indo-Aryan', languages: ['gu', 'hi', 'mr', 'ne', 'ur'] },
  { id: 8, name: 'Turkic and Semitic', languages: ['ar', 'az', 'fa', 'he', 'kk', 'ky', 'tr', 'uz'] },
];

