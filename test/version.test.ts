/** The version string is package.json's, in every place that shows one. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { programFor } from '../src/cli/base.js';
import { openApiDocument } from '../src/http/openapi.js';
import { VERSION } from '../src/version.js';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

describe('VERSION', () => {
  it("is package.json's, and the CLI and the OpenAPI document show it", async () => {
    expect(pkg.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(VERSION).toBe(pkg.version);
    expect((await programFor(['node', 'ridgerec'])).version()).toBe(pkg.version);
    expect((openApiDocument().info as { version: string }).version).toBe(pkg.version);
  });
});
