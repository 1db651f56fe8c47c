import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ColumnLists, WindowRows } from '../../../operators/windows/index.ts';
import { packPartialRows, packRows } from '../../../state/windowRows.ts';
import { RunningStats } from '../../support/runningStats.ts';

const US = '\x1f';

describe('window rows', () => {
  it('give, field by field, the numbers RunningStats gives (metrics in any order, rows growing apart)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            key: fc.constantFrom('a', 'b', 'c', 'd'),
            at: fc.integer({ min: 0, max: 20 }),
            metrics: fc.uniqueArray(
              fc.tuple(
                fc.constantFrom('m0', 'm1', 'm2', 'x', ''),
                fc.double({ noNaN: true, min: -1e6, max: 1e6 }),
              ),
              {
                selector: ([m]) => m,
                minLength: 1,
              },
            ),
          }),
          { maxLength: 80 },
        ),
        (records) => {
          const lists = new ColumnLists();
          const rows = new WindowRows(lists, 2);
          const want = new Map<string, RunningStats>();
          for (const r of records) {
            const row = rows.row(`p${US}${r.key}${US}`, lists.of(r.metrics.map(([m]) => m)));
            r.metrics.forEach(([metric, value], m) => {
              rows.add(row, rows.column(row, metric, m), value, r.at);
              const field = `p${US}${r.key}${US}${metric}`;
              const s = want.get(field) ?? new RunningStats();
              s.add(value, r.at);
              want.set(field, s);
            });
          }
          expect(rows.size).toBe(want.size);
          expect(new Map([...rows].map(([f, s]) => [f, { ...s }]))).toEqual(
            new Map([...want].map(([f, s]) => [f, { ...s }])),
          );
          // packed by row or by field: the same bytes for the same order of fields
          const byField = new Map([...rows]);
          expect(packPartialRows(rows).equals(packRows(byField))).toBe(true);
        },
      ),
    );
  });
});
