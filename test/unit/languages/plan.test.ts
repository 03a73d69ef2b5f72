import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isXalmaError } from '../../../src/errors.ts';
import {
  DEFAULT_GROUPS,
  LANGUAGES,
  buildGroupTable,
  planTranslation,
  type Detection,
  type Detector,
} from '../../../src/languages/index.ts';

/** A detector that answers whatever the test sets, so plans are tested apart from detection. */
function stubDetector(answer: Detection): Detector {
  return { engines: ['stub'], preload() {}, preloadInSteps: async () => {}, dispose() {}, detect: () => answer };
}
const sure = (language: string, confidence = 0.99): Detection => ({ language, confidence, candidates: [] });

const groups = buildGroupTable(DEFAULT_GROUPS);
const codes = LANGUAGES.map((l) => l.code);

function thrownCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (isXalmaError(err)) return err.code;
    throw err;
  }
  return undefined;
}

describe('buildGroupTable', () => {
  it('puts each of the 49 non-English languages in exactly one default group', () => {
    expect(DEFAULT_GROUPS).toHaveLength(8);
    const all = DEFAULT_GROUPS.flatMap((g) => g.languages);
    expect(new Set(all).size).toBe(49);
    expect(groups.groupOf('de')).toBe(1);
    expect(groups.groupOf('fr')).toBe(4);
    expect(groups.groupOf('zh')).toBe(6);
    expect(groups.groupOf('en')).toBeUndefined();
    expect(groups.languages).toHaveLength(50);
  });

  it('rejects duplicate membership, duplicate ids and unknown codes', () => {
    expect(thrownCode(() => buildGroupTable([{ id: 1, name: 'a', languages: ['de'] }, { id: 2, name: 'b', languages: ['de'] }]))).toBe('MODEL_MANIFEST_INVALID');
    expect(thrownCode(() => buildGroupTable([{ id: 1, name: 'a', languages: ['de'] }, { id: 1, name: 'b', languages: ['fr'] }]))).toBe('MODEL_MANIFEST_INVALID');
    expect(thrownCode(() => buildGroupTable([{ id: 1, name: 'a', languages: ['xx'] }]))).toBe('MODEL_MANIFEST_INVALID');
  });

  it('follows a manifest with other groups', () => {
    const custom = buildGroupTable([{ id: 10, name: 'mine', languages: ['de', 'fr', 'en'] }]);
    const plan = planTranslation({ source: 'de', target: 'fr', text: 'x', groups: custom, detector: stubDetector(sure('de')) });
    expect(plan.hops).toEqual([{ from: 'de', to: 'fr', group: 10 }]);
    expect(thrownCode(() => planTranslation({ source: 'de', target: 'ja', text: 'x', groups: custom, detector: stubDetector(sure('de')) }))).toBe('LANGUAGE_NOT_IN_MODEL');
  });
});

describe('planTranslation', () => {
  it('gives every ordered pair of the 50 languages a valid plan', () => {
    for (const source of codes) {
      for (const target of codes) {
        const plan = planTranslation({ source, target, text: 'text', groups, detector: stubDetector(sure(source)) });
        expect(plan.source).toBe(source);
        expect(plan.target).toBe(target);
        expect(plan.identity).toBe(source === target);
        if (source === target) {
          expect(plan.hops).toEqual([]);
          continue;
        }
        // Hops chain from source to target, each through a group that holds its non-English side.
        expect(plan.hops[0].from).toBe(source);
        expect(plan.hops[plan.hops.length - 1].to).toBe(target);
        for (let i = 1; i < plan.hops.length; i++) expect(plan.hops[i].from).toBe(plan.hops[i - 1].to);
        for (const hop of plan.hops) {
          const side = hop.from === 'en' ? hop.to : hop.from;
          expect(hop.from === 'en' || hop.to === 'en' || groups.groupOf(hop.to) === hop.group).toBe(true);
          expect(groups.groupOf(side)).toBe(hop.group);
        }
        const sameGroup = source !== 'en' && target !== 'en' && groups.groupOf(source) === groups.groupOf(target);
        const direct = source === 'en' || target === 'en' || sameGroup;
        expect(plan.hops).toHaveLength(direct ? 1 : 2);
        if (!direct) expect(plan.hops[0].to).toBe('en');
        expect(plan.mismatch).toBeUndefined();
      }
    }
  });

  it('uses the non-English side for en<->xx, direct hops within a group, and pivots across groups', () => {
    const d = stubDetector(sure('en'));
    expect(planTranslation({ source: 'en', target: 'ja', text: 't', groups, detector: d }).hops).toEqual([{ from: 'en', to: 'ja', group: 6 }]);
    expect(planTranslation({ source: 'uk', target: 'en', text: 't', groups, detector: d }).hops).toEqual([{ from: 'uk', to: 'en', group: 3 }]);
    expect(planTranslation({ source: 'es', target: 'pt', text: 't', groups, detector: d }).hops).toEqual([{ from: 'es', to: 'pt', group: 2 }]);
    expect(planTranslation({ source: 'de', target: 'zh', text: 't', groups, detector: d }).hops).toEqual([
      { from: 'de', to: 'en', group: 1 },
      { from: 'en', to: 'zh', group: 6 },
    ]);
  });

  it('returns an identity plan when source and target name the same language', () => {
    const plan = planTranslation({ source: 'pt-BR', target: 'por', text: 'olá', groups, detector: stubDetector(sure('pt')) });
    expect(plan).toMatchObject({ source: 'pt', target: 'pt', identity: true, hops: [], sourceVariant: 'pt-BR' });
  });

  it('detects the source when it is missing or auto, and reports the detection', () => {
    for (const source of [undefined, 'auto', 'AUTO', ' ']) {
      const plan = planTranslation({ source, target: 'en', text: 'Guten Tag', groups, detector: stubDetector(sure('de', 0.9)) });
      expect(plan.source).toBe('de');
      expect(plan.detected?.language).toBe('de');
      expect(plan.hops).toEqual([{ from: 'de', to: 'en', group: 1 }]);
    }
  });

  it('throws SOURCE_UNDETECTED (422) when detection answers und', () => {
    try {
      planTranslation({ target: 'en', text: '12345', groups, detector: stubDetector({ language: 'und', confidence: 0, candidates: [] }) });
      expect.unreachable();
    } catch (err) {
      expect(isXalmaError(err, 'SOURCE_UNDETECTED')).toBe(true);
      if (isXalmaError(err)) expect(err.status).toBe(422);
    }
  });

  it('keeps the declared source but records a confident mismatch', () => {
    const plan = planTranslation({ source: 'fr', target: 'en', text: 'Guten Tag zusammen', groups, detector: stubDetector(sure('de', 0.95)) });
    expect(plan.source).toBe('fr');
    expect(plan.mismatch).toEqual({ detected: 'de' });
    expect(plan.hops).toEqual([{ from: 'fr', to: 'en', group: 4 }]);
    const unsure = planTranslation({ source: 'ms', target: 'en', text: 'x', groups, detector: stubDetector(sure('id', 0.55)) });
    expect(unsure.mismatch).toBeUndefined();
  });

  it('reports target variants and rejects auto or junk targets with coded errors', () => {
    const d = stubDetector(sure('en'));
    expect(planTranslation({ source: 'en', target: 'zh-Hant', text: 't', groups, detector: d }).targetVariant).toBe('zh-Hant');
    expect(thrownCode(() => planTranslation({ source: 'en', target: 'auto', text: 't', groups, detector: d }))).toBe('LANGUAGE_INVALID');
    expect(thrownCode(() => planTranslation({ source: 'en', target: 'xx', text: 't', groups, detector: d }))).toBe('LANGUAGE_UNSUPPORTED');
  });

  it('never throws an uncoded error for arbitrary language fields', () => {
    fc.assert(
      fc.property(fc.option(fc.string({ maxLength: 20 }), { nil: undefined }), fc.string({ maxLength: 20 }), (source, target) => {
        try {
          planTranslation({ source, target, text: 'hello', groups, detector: stubDetector(sure('en')) });
        } catch (err) {
          expect(isXalmaError(err)).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
