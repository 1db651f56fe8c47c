import { describe, expect, it } from 'vitest';
import { comparePositions, positionOfRecord, type RawRecord } from '../../../topology/index.ts';

const raw = (sequenceNumber: string, subSequenceNumber?: number): RawRecord => ({
  stream: 's',
  shardId: 'shardId-000000000000',
  sequenceNumber,
  ...(subSequenceNumber === undefined ? {} : { subSequenceNumber }),
  partitionKey: 'device-1',
  arrivedAt: 0,
  data: new Uint8Array(0),
});

describe('positionOfRecord', () => {
  it('is the sequence number with sub-sequence 0 for a plain record', () => {
    expect(positionOfRecord(raw('49590338271490256608559692538361571095921575989136588898'))).toEqual({
      sequenceNumber: '49590338271490256608559692538361571095921575989136588898',
      subSequenceNumber: 0,
    });
  });

  it("keeps a KPL user record's index, so the user records of one aggregate stay in order", () => {
    const positions = [0, 1, 2].map((i) => positionOfRecord(raw('7', i)));
    expect(positions.map((p) => p.subSequenceNumber)).toEqual([0, 1, 2]);
    expect(comparePositions(positions[0]!, positions[1]!)).toBeLessThan(0);
    expect(comparePositions(positionOfRecord(raw('7')), positions[0]!)).toBe(0);
  });

  it("maps a decoded record's rawRef the same way", () => {
    const ref = { protocol: 'mqtt', format: 'json', stream: 's', shardId: 'x', sequenceNumber: '9' } as const;
    expect(positionOfRecord(ref)).toEqual({ sequenceNumber: '9', subSequenceNumber: 0 });
    expect(positionOfRecord({ ...ref, subSequenceNumber: 4 })).toEqual({
      sequenceNumber: '9',
      subSequenceNumber: 4,
    });
  });
});
