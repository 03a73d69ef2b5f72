/**
 * Languages: codes and names, groups, source detection and pair planning (DESIGN 2).
 * The HTTP layer imports from here only.
 */
export { LANGUAGES, SUPPORTED_CODES, isSupported, languageInfo, languageName, type LanguageInfo } from './table.ts';
export { normalizeLanguage, type NormalizedLanguage } from './normalize.ts';
export { DEFAULT_GROUPS, ENGLISH, buildGroupTable, type GroupSpec, type GroupTable } from './groups.ts';
export {
  DEFAULT_TUNING,
  UNDETERMINED,
  createDetector,
  createFrancBaseline,
  type Detection,
  type Detector,
  type DetectorOptions,
  type DetectorTuning,
} from './detect.ts';
export { DEFAULT_ENGINES, ENGINE_NAMES, type EngineName } from './engine-names.ts';
export { MISMATCH_MIN_CONFIDENCE, isAutoSource, planHops, planTranslation, runHops, type Hop, type Plan, type PlanArgs } from './plan.ts';
export { joinSegments, maxSegmentChars, splitText, worstFinishReason, type Segmented, type SplitOptions } from './segment.ts';
export { PLAIN, TEXT_FORMATS, detectionText, joinPieces, layoutText, markupCacheText, splitMarkup, type MarkupOptions, type Piece, type TextFormat, type TextLayout } from './markup.ts';
