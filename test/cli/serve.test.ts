/**
 * `ridgerec serve` as a real process: port resolution, the API key from RIDGEREC_API_KEY, hot
 * reload of a model activated by another process, and a clean exit on SIGTERM/SIGINT.
 */
import { storeFromDb } from '../../src/store/store.js';
import { request as httpRequest } from 'node:http';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serverConfig, startServer } from '../../src/cli/serve.js';
import { userRatings } from '../../src/ratings/store.js';
import { RidgerecError } from '../../src/errors.js';
import { fixtureDb, trainModel, type Fixture } from '../http/fixture.js';
import { runCli, startCli } from './spawn-cli.js';

describe('the port and host of serve and start (serverConfig)', () => {
  const port = (flag: string | undefined, positional: string | undefined, env: NodeJS.ProcessEnv) =>
    serverConfig({ port: flag }, positional, env).port;
  it('prefers --port, then the positional PORT, then $PORT, then 3000', () => {
    expect(port('4000', '5000', { PORT: '6000' })).toBe(4000);
    expect(port(undefined, '5000', { PORT: '6000' })).toBe(5000);
    expect(port(undefined, undefined, { PORT: '6000' })).toBe(6000);
    expect(port(undefined, undefined, {})).toBe(3000);
  });
  it('rejects a bad PORT naming where it came from', () => {
    expect(() => port(undefined, 'http', {})).toThrow(/PORT argument must be an integer in 0\.\.65535, got "http"/);
    expect(() => port(undefined, undefined, { PORT: '70000' })).toThrow(RidgerecError);
    expect(() => port(undefined, undefined, { PORT: '70000' })).toThrow(/PORT environment variable/);
    expect(() => port('x1', undefined, {})).toThrow(/^--port must be an integer in 0\.\.65535, got "x1"$/);
  });
  it('takes the host from --host, then $HOST, then 127.0.0.1', () => {
    expect(serverConfig({ host: '0.0.0.0' }, undefined, { HOST: '127.0.0.2' }).host).toBe('0.0.0.0');
    expect(serverConfig({}, undefined, { HOST: '127.0.0.2' }).host).toBe('127.0.0.2');
    expect(serverConfig({}, undefined, {}).host).toBe('127.0.0.1');
  });
});

describe('ridgerec serve', () => {
  let fx: Fixture;
  let firstId: number;

  beforeAll(async () => {
    fx = fixtureDb();
    firstId = await trainModel(fx.db, { seed: 1 });
  });
  afterAll(() => fx.cleanup());

  it('serves, guards writes with RIDGEREC_API_KEY, picks up a newly activated model, and exits 0 on SIGTERM', async () => {
    const cli = await startCli(['serve', '0', '--db', fx.path], { RIDGEREC_API_KEY: 'k-123' });
    try {
      expect(cli.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(cli.stdout()).toContain(`(model ${firstId})`);
      expect(await (await fetch(`${cli.url}/health`)).json()).toEqual({ status: 'ok', model: firstId });
      const post = (auth?: string) =>
        fetch(`${cli.url}/v1/ratings`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
          body: JSON.stringify({ user: 'z', item: 'x1', value: 4 }),
        });
      expect((await post()).status).toBe(401);
      expect((await post('Bearer k-123')).status).toBe(201);

      // Another process (here: this test's own connection) trains and activates a new model.
      const secondId = await trainModel(fx.db, { seed: 2 });
      const deadline = Date.now() + 10_000;
      let seen = firstId;
      while (seen !== secondId && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        seen = ((await (await fetch(`${cli.url}/health`)).json()) as { model: number }).model;
      }
      expect(seen).toBe(secondId);
    } finally {
      expect(await cli.stop('SIGTERM')).toBe(0);
    }
    expect(cli.stdout() + cli.stderr()).not.toMatch(/unexpected error/);
  });

  it('close() lets a request in flight finish: a body still uploading when shutdown starts is stored', async () => {
    const handle = await startServer({
      store: storeFromDb(fx.db),
      port: 0,
      host: '127.0.0.1',
      logger: pino({ level: 'silent' }),
      pollMs: 60_000,
    });
    const body = JSON.stringify({ user: 'late', item: 'x3', value: 4 });
    const { port } = new URL(handle.url);
    let closed = false;
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/v1/ratings',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 10));
      // Shutdown starts while the body is half sent; the rest arrives afterwards.
      setTimeout(() => {
        void handle.close().then(() => (closed = true));
        setTimeout(() => req.end(body.slice(10)), 100);
      }, 100);
    });
    const res = await response;
    expect(res.status).toBe(201);
    expect(JSON.parse(res.text)).toEqual({ accepted: 1 });
    expect(userRatings(fx.db, 'late')).toEqual([{ item: 'x3', value: 4 }]);
    await handle.close();
    expect(closed).toBe(true);
    // And it no longer accepts connections.
    await expect(fetch(`${handle.url}/health`)).rejects.toThrow();
  });

  it('exits 0 on SIGINT too', async () => {
    const cli = await startCli(['serve', '--port', '0', '--db', fx.path]);
    expect((await fetch(`${cli.url}/health`)).status).toBe(200);
    expect(await cli.stop('SIGINT')).toBe(0);
  });

  it('binds the address in $HOST, as start does', async () => {
    // The whole of 127.0.0.0/8 is loopback on Linux: 127.0.0.2 is a second address to bind.
    const cli = await startCli(['serve', '--port', '0', '--db', fx.path], { HOST: '127.0.0.2' });
    try {
      expect(cli.url).toMatch(/^http:\/\/127\.0\.0\.2:\d+$/);
      expect((await fetch(`${cli.url}/health`)).status).toBe(200);
    } finally {
      expect(await cli.stop('SIGTERM')).toBe(0);
    }
  });

  it('on 0.0.0.0 from $HOST without RIDGEREC_API_KEY: warns and refuses writes with 403 writes_disabled (it used to accept them)', async () => {
    const cli = await startCli(['serve', '--port', '0', '--db', fx.path], { HOST: '0.0.0.0' });
    try {
      expect(cli.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
      expect(cli.stderr()).toMatch(/warning: listening on 0\.0\.0\.0 \(not loopback\) without RIDGEREC_API_KEY: the server is read-only/);
      const url = cli.url.replace('0.0.0.0', '127.0.0.1');
      const res = await fetch(`${url}/v1/ratings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: 'open-write', item: 'x1', value: 4 }),
      });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('writes_disabled');
      expect((await fetch(`${url}/v1/users/open-write`, { method: 'DELETE' })).status).toBe(403);
      expect((await fetch(`${url}/v1/admin/reload`, { method: 'POST' })).status).toBe(403);
      expect((await fetch(`${url}/v1/users/a1/recommendations`)).status).toBe(200);
    } finally {
      expect(await cli.stop('SIGTERM')).toBe(0);
    }
    expect(userRatings(fx.db, 'open-write')).toEqual([]);
  });

  it('--allow-open-writes (or RIDGEREC_ALLOW_OPEN_WRITES=1) opts out of read-only mode explicitly', async () => {
    for (const [args, env] of [
      [['--allow-open-writes'], {}],
      [[], { RIDGEREC_ALLOW_OPEN_WRITES: '1' }],
    ] as const) {
      const cli = await startCli(['serve', '--port', '0', '--host', '0.0.0.0', '--db', fx.path, ...args], env);
      try {
        expect(cli.stderr()).toMatch(/anyone who can reach it can write/);
        const res = await fetch(`${cli.url.replace('0.0.0.0', '127.0.0.1')}/v1/ratings`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ user: 'opted-in', item: 'x2', value: 3 }),
        });
        expect(res.status).toBe(201);
      } finally {
        expect(await cli.stop('SIGTERM')).toBe(0);
      }
    }
  });

  it('exits 2 naming the variable for a bad environment setting', async () => {
    const r = await runCli(['serve', '--port', '0', '--db', fx.path], { LOG_LEVEL: 'loud' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /the LOG_LEVEL environment variable must be one of fatal, error, warn, info, debug, trace, silent \(any case\), got "loud"/,
    );
  });

  it('exits 2 with a message for a bad port', async () => {
    const r = await runCli(['serve', 'abc', '--db', fx.path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/PORT argument must be an integer in 0\.\.65535, got "abc"/);
  });
});
