/**
 * The committed field reference (`specs/REFERENCE.md`) is what the generator makes of the schema
 * now, and it states what an author needs: every format, binary type, byte and bit order, and the
 * contract's time limits with their defaults.
 */

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BINARY_TYPES } from '../../../specs/binaryFields.ts';
import { REFERENCE_COMMAND, specReference } from '../../../specs/reference.ts';

const reference = specReference();

describe('the spec field reference', () => {
  it('the committed specs/REFERENCE.md is up to date', () => {
    const committed = readFileSync('specs/REFERENCE.md', 'utf8');
    expect(
      committed === reference,
      `specs/REFERENCE.md differs from what the schema gives; write it again: ${REFERENCE_COMMAND}`,
    ).toBe(true);
  });

  it('has a table for every format and every binary type with its reading', () => {
    for (const format of ['hex', 'kv', 'hybrid', 'json', 'csv'])
      expect(reference).toContain(`### \`format (type: ${format})\``);
    for (const type of BINARY_TYPES)
      expect(reference).toMatch(new RegExp(`^\\| \`${type}\` \\| \\d+|^\\| \`${type}\` \\| \`length\``, 'm'));
    expect(reference).not.toContain('(not described yet)');
  });

  it('states byte order, bit order and the defaults', () => {
    expect(reference).toContain('big-endian (most significant byte first)');
    expect(reference).toContain('bit 0 is the\n  least significant bit');
    expect(reference).toMatch(/\| `endian` \| one of: `big`, `little` \| `"big"` \|/);
    expect(reference).toMatch(/\| `maxAgeMs` \| integer ≥ 0, or `off` \|.*default 2592000000 \(30 days\)/);
    expect(reference).toMatch(/\| `maxFutureSkewMs` \| .*default 300000 \(5 minutes\)/);
  });
});
