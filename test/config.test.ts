/**
 * The runtime configuration (src/config.ts): defaults, each environment variable, flags over the
 * environment, errors that name the variable or flag and the allowed values, and the rule that
 * nothing else in src/ reads process.env.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, LIMITS, LOG_LEVELS, loadConfig } from '../src/config.js';
import { InvalidInput } from '../src/errors.js';

function failure(f: () => unknown): InvalidInput {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidInput);
    return e as InvalidInput;
  }
  throw new Error('expected an InvalidInput');
}

describe('loadConfig', () => {
  it('gives the documented defaults with no flag and an empty environment', () => {
    const c = loadConfig({}, {});
    expect(c).toEqual({
      db: resolve('data/ridgerec.db'),
      port: 3000,
      host: '127.0.0.1',
      apiKey: null,
      logLevel: 'info',
      pollMs: 2000,
      writeDeadlineMs: 2000,
      maxLiveUsers: 60_000,
      limits: { defaultLimit: 10, maxLimit: 1000, minRatingValue: -1e6, maxRatingValue: 1e6 },
      allowOpenWrites: false,
      rateLimit: null,
      rateLimitWindowMs: 60_000,
    });
    expect(DEFAULTS).toMatchObject({ db: './data/ridgerec.db', port: 3000, host: '127.0.0.1', logLevel: 'info', pollMs: 2000 });
  });

  it('reads the write deadline and the live-user cap from the environment, naming the variable of a bad value', () => {
    const c = loadConfig({}, { RIDGEREC_WRITE_DEADLINE_MS: '500', RIDGEREC_MAX_LIVE_USERS: '10000' });
    expect(c).toMatchObject({ writeDeadlineMs: 500, maxLiveUsers: 10_000 });
    expect(() => loadConfig({}, { RIDGEREC_WRITE_DEADLINE_MS: '90000' })).toThrow(
      'the RIDGEREC_WRITE_DEADLINE_MS environment variable must be an integer in 0..60000, got "90000"',
    );
    expect(() => loadConfig({}, { RIDGEREC_MAX_LIVE_USERS: '10' })).toThrow(
      'the RIDGEREC_MAX_LIVE_USERS environment variable must be an integer in 1000..100000000, got "10"',
    );
  });

  it('returns a frozen object', () => {
    const c = loadConfig({}, {});
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.limits)).toBe(true);
    expect(() => {
      (c as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(LIMITS.maxLimit).toBe(1000);
  });

  it('reads each environment variable', () => {
    const c = loadConfig(
      {},
      {
        RIDGEREC_DB: 'some/where.db',
        PORT: '8080',
        HOST: '0.0.0.0',
        RIDGEREC_API_KEY: 's3cret',
        LOG_LEVEL: 'warn',
        RIDGEREC_POLL_MS: '250',
      },
    );
    expect(c).toMatchObject({
      db: resolve('some/where.db'),
      port: 8080,
      host: '0.0.0.0',
      apiKey: 's3cret',
      logLevel: 'warn',
      pollMs: 250,
    });
    for (const level of LOG_LEVELS) expect(loadConfig({}, { LOG_LEVEL: level }).logLevel).toBe(level);
    expect(loadConfig({}, { LOG_LEVEL: 'WARN' }).logLevel).toBe('warn');
    expect(loadConfig({}, { RIDGEREC_DB: ':memory:' }).db).toBe(':memory:');
    expect(loadConfig({}, { PORT: '0' }).port).toBe(0);
    expect(loadConfig({}, { PORT: '65535' }).port).toBe(65535);
  });

  it('treats an environment variable set to the empty string as unset', () => {
    const c = loadConfig({}, { RIDGEREC_DB: '', PORT: '', HOST: '', RIDGEREC_API_KEY: '', LOG_LEVEL: '', RIDGEREC_POLL_MS: '' });
    expect(c).toEqual(loadConfig({}, {}));
  });

  it('lets flags win over the environment, and serve’s positional PORT sit between --port and $PORT', () => {
    const env = { RIDGEREC_DB: 'env.db', PORT: '6000', HOST: '10.0.0.1' };
    expect(loadConfig({ db: 'flag.db', port: '4000', portArgument: '5000', host: '0.0.0.0' }, env)).toMatchObject({
      db: resolve('flag.db'),
      port: 4000,
      host: '0.0.0.0',
    });
    expect(loadConfig({ portArgument: '5000' }, env).port).toBe(5000);
    expect(loadConfig({}, env)).toMatchObject({ db: resolve('env.db'), port: 6000, host: '10.0.0.1' });
    expect(loadConfig({ port: 7000 }, env).port).toBe(7000);
  });

  it.each([
    [{ PORT: '70000' }, /^the PORT environment variable must be an integer in 0\.\.65535, got "70000"$/],
    [{ PORT: 'http' }, /^the PORT environment variable must be an integer in 0\.\.65535, got "http"$/],
    [{ PORT: '-1' }, /^the PORT environment variable must be an integer in 0\.\.65535, got "-1"$/],
    [{ PORT: '80.5' }, /^the PORT environment variable must be an integer in 0\.\.65535, got "80\.5"$/],
    [{ HOST: 'my host' }, /^the HOST environment variable must be a host name or an IP address, got "my host"$/],
    [
      { LOG_LEVEL: 'loud' },
      /^the LOG_LEVEL environment variable must be one of fatal, error, warn, info, debug, trace, silent \(any case\), got "loud"$/,
    ],
    [{ RIDGEREC_POLL_MS: '50' }, /^the RIDGEREC_POLL_MS environment variable must be an integer in 100\.\.3600000, got "50"$/],
    [{ RIDGEREC_POLL_MS: '1s' }, /^the RIDGEREC_POLL_MS environment variable must be an integer in 100\.\.3600000, got "1s"$/],
  ])('rejects %o with a message naming the variable and the allowed values', (env, message) => {
    const e = failure(() => loadConfig({}, env));
    expect(e.message).toMatch(message);
    expect(e.code).toBe('invalid_input');
  });

  it('names the flag or the argument when the bad value came from there', () => {
    expect(failure(() => loadConfig({ port: '99999' }, { PORT: '80' })).message).toBe('--port must be an integer in 0..65535, got "99999"');
    expect(failure(() => loadConfig({ portArgument: 'abc' }, {})).message).toBe(
      'the PORT argument must be an integer in 0..65535, got "abc"',
    );
    expect(failure(() => loadConfig({ host: '' }, { HOST: '0.0.0.0' })).message).toBe(
      '--host must be a host name or an IP address, got ""',
    );
    expect(failure(() => loadConfig({ db: '' }, {})).message).toBe('--db must be a non-empty file path, got ""');
  });

  it('does not look at a bad value a flag overrides', () => {
    expect(loadConfig({ port: '8080' }, { PORT: 'junk' }).port).toBe(8080);
  });
});

describe('the environment is read in one place', () => {
  const SRC = fileURLToPath(new URL('../src/', import.meta.url));
  function* sources(dir: string): Generator<string> {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) yield* sources(path);
      else if (entry.name.endsWith('.ts')) yield path;
    }
  }

  it('no module of src/ but config.ts (and env.ts, its schema-free part for worker threads) reads process.env', () => {
    const readers: string[] = [];
    for (const path of sources(SRC)) {
      const file = relative(SRC, path).replaceAll('\\', '/');
      if (file === 'config.ts' || file === 'env.ts') continue;
      readFileSync(path, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (!line.includes('process.env')) return;
          readers.push(`src/${file}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(readers).toEqual([]);
  });
});
