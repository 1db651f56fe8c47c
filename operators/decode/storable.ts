/**
 * The rules for values that every store can hold, shared by the envelope reader and the admission
 * check (`admission.ts`): printable text, text without NUL or control characters, plausible epochs,
 * and a short quoted form of a value for a dead letter's reason. Which text a store cannot hold is the
 * engine's rule (`hasUnstorableText`), the same one that sanitises dead letters.
 */

/** Earliest and latest plausible epoch (ms) of a device, hub or receive time: 2000-01-01 to 2100-01-01. */
const PLAUSIBLE_EPOCH_MS = { from: 946_684_800_000, to: 4_102_444_800_000 } as const;

// \p{C}: control, format, unassigned, private-use and lone surrogate code points
const NOT_PRINTABLE = /\p{C}/u;

/** True when `text` has no control, format, unassigned, private-use or lone surrogate code point. */
export function isPrintable(text: string): boolean {
  return !NOT_PRINTABLE.test(text);
}

/** A short, printable form of a value for a dead letter's reason (never the raw bytes). */
export function quoted(value: string, max = 80): string {
  const shown = JSON.stringify(value.length > max ? `${value.slice(0, max)}…` : value);
  return value.length > max ? `${shown} (${value.length} characters)` : shown;
}

/** True for an epoch in milliseconds inside {@link PLAUSIBLE_EPOCH_MS}. */
export function isPlausibleEpoch(ms: unknown): ms is number {
  return (
    typeof ms === 'number' &&
    Number.isFinite(ms) &&
    ms >= PLAUSIBLE_EPOCH_MS.from &&
    ms < PLAUSIBLE_EPOCH_MS.to
  );
}
