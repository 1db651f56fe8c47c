/**
 * The one codec of detector states: a detector's state is a `Float64Array` whose slot 0 holds the
 * detector's kind and whose length follows from its parameters (kept in the state too), so the bytes
 * are the slots, little-endian, and decoding checks the kind and the length before handing them back.
 */
import type { StateCodec } from '../../../topology/index.ts';

/** Slot 0 of every detector state: which detector it belongs to. */
export const KIND = 0;

/** The kinds written in slot 0 (never reuse a number: old snapshots hold them). */
export const DetectorKind = Object.freeze({
  rateOfChange: 1,
  outOfBand: 2,
  anomaly: 3,
  predictive: 4,
});

/** Slots as little-endian doubles, the bytes of every `Float64Array` state the rules keep. */
export function float64Bytes(slots: Float64Array): Uint8Array {
  const bytes = new Uint8Array(slots.length * 8);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < slots.length; i++) view.setFloat64(i * 8, slots[i]!, true);
  return bytes;
}

/** The slots of {@link float64Bytes}' bytes (a whole number of slots: the caller checks). */
export function float64Slots(bytes: Uint8Array): Float64Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const slots = new Float64Array(Math.floor(bytes.length / 8));
  for (let i = 0; i < slots.length; i++) slots[i] = view.getFloat64(i * 8, true);
  return slots;
}

/**
 * The codec of one detector's states: `expectedLength` says, from a decoded state's own parameter
 * slots, how long it must be (a truncated or foreign snapshot is refused, never half-read).
 */
export function detectorStateCodec(
  name: string,
  kind: number,
  expectedLength: (state: Float64Array) => number,
): StateCodec<Float64Array> {
  return {
    encode: float64Bytes,
    decode(bytes) {
      if (bytes.length === 0 || bytes.length % 8 !== 0) {
        throw new Error(`${name} state: ${bytes.length} bytes is not a whole number of slots`);
      }
      const state = float64Slots(bytes);
      if (state[KIND] !== kind) throw new Error(`${name} state: kind ${state[KIND]} is not ${kind}`);
      const length = expectedLength(state);
      if (state.length !== length) {
        throw new Error(`${name} state: ${state.length} slots where its parameters make ${length}`);
      }
      return state;
    },
  };
}
