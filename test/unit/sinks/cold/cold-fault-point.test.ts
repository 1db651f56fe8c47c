/**
 * The commit path's test-only fault points (`SHARDFLOW_FAULT`): the specification is parsed strictly,
 * and an armed point kills the process with SIGKILL on exactly the n-th pass, in a child process.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { faultPoint, parseFaultSpec } from '../../../../sinks/cold/iceberg/faultPoint.ts';

const MODULE = fileURLToPath(new URL('../../../../sinks/cold/iceberg/faultPoint.ts', import.meta.url));

describe('SHARDFLOW_FAULT', () => {
  it('parses one point or several, and nothing when unset', () => {
    expect(parseFaultSpec(undefined)).toEqual(new Map());
    expect(parseFaultSpec('')).toEqual(new Map());
    expect(parseFaultSpec('iceberg-commit-after-metadata:3')).toEqual(
      new Map([['iceberg-commit-after-metadata', 3]]),
    );
    expect(parseFaultSpec('iceberg-commit-after-metadata:3, iceberg-commit-after-swap:1')).toEqual(
      new Map([
        ['iceberg-commit-after-metadata', 3],
        ['iceberg-commit-after-swap', 1],
      ]),
    );
  });

  it.each([
    'iceberg-commit:1',
    'iceberg-commit-after-swap',
    'iceberg-commit-after-swap:0',
    'iceberg-commit-after-swap:x',
  ])('refuses %s, naming the variable and the points', (spec) => {
    expect(() => parseFaultSpec(spec)).toThrow(
      /SHARDFLOW_FAULT: .* iceberg-commit-after-metadata, iceberg-commit-after-swap/,
    );
  });

  it('does nothing when the variable is unset in this process', () => {
    expect(() => faultPoint('iceberg-commit-after-swap')).not.toThrow();
  });

  it('kills the process with SIGKILL on the armed pass, not before', () => {
    const script = `
      const { faultPoint } = await import(${JSON.stringify(MODULE)});
      for (let pass = 1; pass <= 3; pass++) {
        faultPoint('iceberg-commit-after-metadata');
        faultPoint('iceberg-commit-after-swap');
        console.log('survived pass', pass);
      }`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, SHARDFLOW_FAULT: 'iceberg-commit-after-swap:2' },
      encoding: 'utf8',
    });
    expect(child.stdout).toBe('survived pass 1\n');
    expect(child.signal).toBe('SIGKILL');
  });
});
