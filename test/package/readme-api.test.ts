/**
 * The README's "Public API" tables and src/index.ts name the same things: every export (values and
 * types) appears in the tables' first column, and every name there is an export.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as api from '../../src/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The "### Public API" section of the README, up to the next heading of any level. */
function apiSection(): string {
  const readme = readFileSync(`${ROOT}README.md`, 'utf8');
  const m = /^### Public API\n([\s\S]*?)(?=^#{1,3} )/m.exec(readme);
  if (!m) throw new Error('README.md has no "### Public API" section');
  return m[1]!;
}

/** Identifiers in backticks in the first cell of each table row (`fit(…)` counts as fit). */
function firstColumnNames(section: string): Set<string> {
  const names = new Set<string>();
  for (const line of section.split('\n')) {
    if (!line.startsWith('| ') || line.startsWith('| ---')) continue;
    const cell = line.slice(2).split(' | ')[0]!;
    for (const m of cell.matchAll(/`([A-Za-z_$][\w$]*)/g)) names.add(m[1]!);
  }
  return names;
}

/** Names of `export type { … }` in src/index.ts (types leave no trace at run time). */
function typeExports(): string[] {
  const source = readFileSync(`${ROOT}src/index.ts`, 'utf8');
  const names: string[] = [];
  for (const m of source.matchAll(/^export type \{([^}]*)\}/gm)) {
    for (const part of m[1]!.split(',')) if (part.trim() !== '') names.push(part.trim());
  }
  return names;
}

describe('README "Public API"', () => {
  const listed = firstColumnNames(apiSection());
  const values = Object.keys(api);
  const types = typeExports();

  it('finds the exports it checks (values and types)', () => {
    expect(values).toContain('fit');
    expect(values).toContain('Model');
    expect(types).toContain('Recommendation');
    expect(types).toContain('Store');
  });

  it('lists every export of src/index.ts', () => {
    expect([...values, ...types].filter((name) => !listed.has(name))).toEqual([]);
  });

  it('lists nothing that src/index.ts does not export', () => {
    const exported = new Set([...values, ...types]);
    expect([...listed].filter((name) => !exported.has(name))).toEqual([]);
  });
});
