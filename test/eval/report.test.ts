import { describe, expect, it } from 'vitest';
import { renderTuneReport, seriesByFactors } from '../../src/eval/report.js';
import { expandGrid, gridToJson, parseGrid, parseMetric, runGrid, type Fold, type PointEvaluator } from '../../src/eval/tune.js';
import { matrixFromTriples } from '../../src/ratings/matrix.js';
import { resolveParams } from '../../src/training/params.js';

/**
 * A minimal XML well-formedness check: every tag is <name attr="…"…>, </name> or <name …/>, tags
 * nest properly, attribute values and text contain no raw '<' and only known entities.
 */
function checkWellFormed(doc: string): { tags: string[] } {
  const body = doc.replace(/^<!DOCTYPE html>\s*/, '');
  const tagRe = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  const stack: string[] = [];
  const tags: string[] = [];
  let last = 0;
  for (let m = tagRe.exec(body); m; m = tagRe.exec(body)) {
    const text = body.slice(last, m.index);
    if (text.includes('<') || text.includes('>')) throw new Error(`stray angle bracket near: ${text.slice(0, 80)}`);
    const attrs = m[3] ?? '';
    for (const chunk of [text, attrs]) {
      for (const ent of chunk.match(/&[^;\s]*;?/g) ?? []) {
        if (!/^&(amp|lt|gt|quot|#39);$/.test(ent)) throw new Error(`bad entity ${ent}`);
      }
    }
    last = m.index + m[0].length;
    const [, close, name, , selfClose] = m;
    if (close) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else {
      tags.push(name!);
      if (!selfClose) stack.push(name!);
    }
  }
  const rest = body.slice(last).trim();
  if (rest !== '') throw new Error(`trailing content: ${rest.slice(0, 80)}`);
  if (stack.length > 0) throw new Error(`unclosed: ${stack.join(' ')}`);
  return { tags };
}

const dummy: Fold = {
  name: 'fold 1',
  train: matrixFromTriples([['u', 'i', 1]]),
  test: { users: new Int32Array(1), items: new Int32Array(1), values: new Float32Array(1), userIds: ['u'], itemIds: ['i'] },
};

/** U-shaped: best λ moves with factors; alpha 2 is slightly better everywhere. */
const fake: PointEvaluator = async (_fold, p) => {
  const rmse = 0.9 + (Math.log10(p.lambda + 1e-3) - p.factors / 32) ** 2 / 10 - (p.alpha === 2 ? 0.005 : 0);
  return { metrics: { rmse }, trainLoss: 0.4 + p.lambda / 50, seconds: 0.01 };
};

async function result(spec: string) {
  const grid = parseGrid(spec);
  const pts = expandGrid(grid, resolveParams({ feedback: 'explicit', threads: 1 }));
  return { grid, r: await runGrid([dummy], pts, { metric: parseMetric('rmse', 'explicit'), evaluate: fake }) };
}

describe('tune report', () => {
  it('is well-formed, self-contained, and has one validation and one training line per factors value', async () => {
    const { grid, r } = await result('lambda=0.01,0.03,0.1,0.3,1,3,10 factors=16,32,64 alpha=1,2');
    const html = renderTuneReport(r, { source: 'test <fixture> & co', grid: gridToJson(grid), createdAt: '2025-01-01T00:00:00Z' });
    const { tags } = checkWellFormed(html);
    expect(tags).toContain('svg');
    expect(tags).toContain('table');
    // No scripts, external resources or fetches.
    expect(html).not.toMatch(/<script|<link|@import|url\(|https?:|src=/i);
    const validation = html.match(/<polyline class="validation-line"[^>]*>/g) ?? [];
    const training = html.match(/<polyline class="training-line"[^>]*>/g) ?? [];
    expect(validation).toHaveLength(3);
    expect(training).toHaveLength(3);
    expect(validation.map((l) => /data-factors="(\d+)"/.exec(l)![1])).toEqual(['16', '32', '64']);
    // Each line has one vertex per λ (7), alpha collapsed to its best.
    for (const line of validation) expect(/points="([^"]*)"/.exec(line)![1]!.split(' ')).toHaveLength(7);
    // The best point is marked on both charts, and its row highlighted.
    expect(html.match(/class="best-marker"/g)).toHaveLength(2);
    expect(html.match(/<tr class="best">/g)).toHaveLength(1);
    expect(html).toContain('λ (log scale)');
    expect(html).toContain('test &lt;fixture&gt; &amp; co');
    // One table row per grid point.
    expect(html.match(/<tr( class="best")?><td>/g)).toHaveLength(42);
  });

  it('plots x on a log scale: equal ratios of λ are equal distances, increasing to the right', async () => {
    const { grid, r } = await result('lambda=0.01,0.1,1,10 factors=32');
    const html = renderTuneReport(r, { source: 's', grid: gridToJson(grid) });
    const line = /<polyline class="validation-line"[^>]*points="([^"]*)"/.exec(html)![1]!;
    const xs = line.split(' ').map((p) => Number(p.split(',')[0]));
    const gaps = xs.slice(1).map((x, i) => x - xs[i]!);
    for (const g of gaps) {
      expect(g).toBeGreaterThan(0);
      expect(g).toBeCloseTo(gaps[0]!, 0);
    }
    // The U: for factors 32 the fake's rmse is lowest at log10 λ = 32/32 = 1, i.e. λ = 10, the
    // 4th vertex; a lower rmse is drawn lower (a larger SVG y).
    const ys = line.split(' ').map((p) => Number(p.split(',')[1]));
    expect(ys.indexOf(Math.max(...ys))).toBe(3);
    expect(ys[0]).toBeLessThan(ys[1]!);
  });

  it('groups results by factors, keeping the best of the other dimensions per λ', async () => {
    const { r } = await result('lambda=0.1,1 factors=16,32 alpha=1,2');
    const s = seriesByFactors(r);
    expect(s.map((x) => x.factors)).toEqual([16, 32]);
    for (const x of s) {
      expect(x.points.map((p) => p.lambda)).toEqual([0.1, 1]);
      for (const p of x.points) expect(p.result.params.alpha).toBe(2);
    }
  });

  it('copes with a single point and with λ = 0 (linear axis)', async () => {
    const one = await result('lambda=0.1');
    expect(() => checkWellFormed(renderTuneReport(one.r, { source: 's', grid: gridToJson(one.grid) }))).not.toThrow();
    const zero = await result('lambda=0,0.5,1');
    const html = renderTuneReport(zero.r, { source: 's', grid: gridToJson(zero.grid) });
    checkWellFormed(html);
    expect(html).toContain('linear scale');
  });
});
