/**
 * The specs in force: loaded from a directory, compiled once per version, and reloaded when the
 * directory changes, without a restart. A file that becomes invalid is refused (with file, line and
 * the problem) and its previous version stays in force; a file that is removed takes its spec away.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { type LoadedSpec, loadSpecDirectory, type SpecProblem, specFileNames } from '../../specs/loader.ts';
import type { Clock } from '../../topology/index.ts';
import { errorMessage, type Logger, silentLogger } from '../../topology/logger.ts';
import { type CompiledSpec, compileSpec } from './compileSpec.ts';
import type { Incoming } from './envelope.ts';
import { type DeviceRegistry, topicIds } from './match.ts';

/** The compiled specs of a directory. */
export class SpecRegistry {
  private byFile = new Map<string, CompiledSpec>();
  private inForce: CompiledSpec[] = [];
  /** Product id → the first spec in force that may be recognised through the device registry. */
  private byRegistryProduct = new Map<string, CompiledSpec>();
  private fingerprint = '';

  constructor(
    readonly dir: string,
    private readonly log: Logger = silentLogger,
  ) {}

  /** (Re)loads the directory; returns the problems found (the specs in force are still usable). */
  load(): SpecProblem[] {
    const loaded = loadSpecDirectory(this.dir);
    const specs = loaded.specs;
    const problems = [...loaded.problems];
    const problemFiles = new Set(problems.map((p) => p.file));
    const next = new Map<string, CompiledSpec>();
    const compile = (loaded: LoadedSpec) => {
      try {
        next.set(loaded.file, compileSpec(loaded.spec));
      } catch (error) {
        problems.push({ file: loaded.file, line: 1, message: errorMessage(error) });
        problemFiles.add(loaded.file);
      }
    };
    for (const loaded of specs) if (!problemFiles.has(loaded.file)) compile(loaded);
    // an invalid file keeps the version that was in force; a removed file takes its spec with it
    for (const file of problemFiles) {
      const previous = this.byFile.get(file);
      if (previous !== undefined) next.set(file, previous);
    }
    this.byFile = next;
    this.inForce = latestVersions([...next.values()]);
    this.byRegistryProduct = new Map();
    for (const s of this.inForce) {
      if (s.spec.match.registry === true && !this.byRegistryProduct.has(s.spec.productId))
        this.byRegistryProduct.set(s.spec.productId, s);
    }
    this.fingerprint = this.currentFingerprint();
    for (const p of problems)
      this.log.warn({ file: p.file, line: p.line, problem: p.message }, 'spec refused');
    return problems;
  }

  /** Every spec compiled from the directory, by file, the versions not in force included. */
  get compiledByFile(): ReadonlyMap<string, CompiledSpec> {
    return this.byFile;
  }

  /** The compiled specs in force: the highest version of each spec id, in file order. */
  get specs(): readonly CompiledSpec[] {
    return this.inForce;
  }

  /**
   * The first spec whose own `match` conditions accept the record; failing that, when `devices` is
   * given, the spec with `match.registry` whose product the registry names for the device of the
   * record's topic (a standard MQTT topic: the child device, else the device or hub).
   */
  find(incoming: Incoming, devices?: DeviceRegistry): CompiledSpec | undefined {
    for (const spec of this.inForce) if (spec.matches(incoming)) return spec;
    if (devices === undefined || this.byRegistryProduct.size === 0) return undefined;
    const device = topicIds(incoming.envelope?.topic, undefined)?.device;
    if (device === undefined) return undefined;
    const product = devices.productOf(device);
    return product === undefined ? undefined : this.byRegistryProduct.get(product);
  }

  private currentFingerprint(): string {
    try {
      return specFileNames(this.dir)
        .map((f) => `${f}:${statSync(join(this.dir, f)).mtimeMs}`)
        .join('|');
    } catch {
      return '';
    }
  }

  /** Reloads whenever the directory's files change, until `signal` aborts. */
  async watch(clock: Clock, intervalMs: number, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await clock.sleep(intervalMs, signal).catch(() => {});
      if (signal.aborted || this.currentFingerprint() === this.fingerprint) continue;
      this.load();
      this.log.info({ specs: this.inForce.map((s) => `${s.spec.id}@${s.spec.version}`) }, 'specs reloaded');
    }
  }
}

function latestVersions(specs: CompiledSpec[]): CompiledSpec[] {
  const latest = new Map<string, CompiledSpec>();
  for (const s of specs) {
    const current = latest.get(s.spec.id);
    if (current === undefined || s.spec.version > current.spec.version) latest.set(s.spec.id, s);
  }
  return specs.filter((s) => latest.get(s.spec.id) === s);
}
