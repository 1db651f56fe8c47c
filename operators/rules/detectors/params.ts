/**
 * Validation of detector parameters: each check names the detector and the parameter it refuses, so a
 * ruleset's author reads what to change (the ruleset compiler adds the file and line).
 */

/** A detector parameter that is missing, of the wrong type or out of range. */
export class DetectorParamError extends Error {
  override readonly name = 'DetectorParamError';
  constructor(
    readonly detector: string,
    readonly param: string,
    problem: string,
  ) {
    super(`${detector}: parameter \`${param}\` ${problem}`);
  }
}

const shown = (value: unknown): string => (typeof value === 'string' ? JSON.stringify(value) : String(value));

/** A finite number in [min, max] (bounds inclusive unless `exclusiveMin`); `fallback` when undefined. */
export function numberParam(
  detector: string,
  param: string,
  value: unknown,
  range: { min?: number; max?: number; exclusiveMin?: boolean; fallback?: number },
): number {
  if (value === undefined && range.fallback !== undefined) return range.fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new DetectorParamError(detector, param, `must be a finite number (got ${shown(value)})`);
  }
  const { min, max, exclusiveMin } = range;
  if (min !== undefined && (exclusiveMin ? value <= min : value < min)) {
    throw new DetectorParamError(
      detector,
      param,
      `must be ${exclusiveMin ? '>' : '≥'} ${min} (got ${value})`,
    );
  }
  if (max !== undefined && value > max) {
    throw new DetectorParamError(detector, param, `must be ≤ ${max} (got ${value})`);
  }
  return value;
}

/** An integer in [min, max]; `fallback` when undefined. */
export function integerParam(
  detector: string,
  param: string,
  value: unknown,
  range: { min: number; max: number; fallback?: number },
): number {
  const n = numberParam(detector, param, value, range);
  if (!Number.isInteger(n)) throw new DetectorParamError(detector, param, `must be an integer (got ${n})`);
  return n;
}

/** One of `choices`; `fallback` when undefined. */
export function choiceParam<T extends string>(
  detector: string,
  param: string,
  value: unknown,
  choices: readonly T[],
  fallback?: T,
): T {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw new DetectorParamError(
      detector,
      param,
      `must be one of ${choices.map((c) => `'${c}'`).join(', ')} (got ${shown(value)})`,
    );
  }
  return value as T;
}

/** Refuses keys the detector does not know (a misspelt parameter would otherwise be silently defaulted). */
export function knownKeys(detector: string, params: object, known: readonly string[], prefix = ''): void {
  if (params === null || typeof params !== 'object') {
    throw new DetectorParamError(detector, prefix ? prefix.slice(0, -1) : 'params', 'must be an object');
  }
  for (const key of Object.keys(params)) {
    if (!known.includes(key)) throw new DetectorParamError(detector, `${prefix}${key}`, 'is not a parameter');
  }
}
