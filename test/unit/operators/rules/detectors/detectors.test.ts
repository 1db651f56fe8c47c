import { describe, expect, it } from 'vitest';
import {
  anomalyDetector,
  type Detector,
  DetectorKind,
  outOfBandDetector,
  predictiveDetector,
  rateOfChangeDetector,
} from '../../../../../operators/rules/detectors/index.ts';

const HOUR = 3_600_000;

describe('the detectors behind one interface', () => {
  const cases: [Detector<never>, object][] = [
    [rateOfChangeDetector as Detector<never>, { maxRate: 1, span: 4 }],
    [outOfBandDetector as Detector<never>, { k: 4, halfLifeMs: HOUR }],
    [anomalyDetector as Detector<never>, { method: 'cusum', hourOfDay: { fallback: 'global' } }],
    [
      predictiveDetector as Detector<never>,
      { threshold: 50, crossing: 'above', horizonMs: 24 * HOUR, points: 6 },
    ],
  ];

  it('create, update and snapshot each kind alike; a state decodes only with its own codec', () => {
    for (const [detector, params] of cases) {
      const state = detector.create(params as never);
      for (let i = 0; i < 500; i++) {
        const v = detector.update(
          state,
          i * HOUR,
          20 + Math.sin(i / 3) + (i > 400 ? i - 400 : 0),
          (i % 24) + 0.5,
        );
        expect(Number.isNaN(v.score), detector.kind).toBe(false);
        if (!v.ready) expect(v.anomalous, detector.kind).toBe(false);
      }
      const bytes = detector.codec.encode(state);
      expect(bytes.length, detector.kind).toBe(8 * state.length);
      expect(detector.codec.decode(bytes), detector.kind).toEqual(state);
      for (const [other] of cases) {
        if (other !== detector)
          expect(() => other.codec.decode(bytes), `${detector.kind} as ${other.kind}`).toThrow(/kind/);
      }
    }
    expect(new Set(Object.values(DetectorKind)).size).toBe(cases.length);
  });
});
