import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluateModel } from '../../src/eval/metrics.js';
import { alignTestSet } from '../../src/eval/split.js';
import { matrixFromTriples } from '../../src/ratings/matrix.js';
import { fitFactors } from '../../src/training/fit.js';
import { resolveParams } from '../../src/training/params.js';

const DIR = join(import.meta.dirname, '../../../shared/data/ml-100k');
const present = existsSync(join(DIR, 'u1.base')) && existsSync(join(DIR, 'ua.base'));
if (!present) console.log(`skipping the MovieLens 100K accuracy tests: ${DIR} is absent`);

function read(name: string): [string, string, number][] {
  return readFileSync(join(DIR, name), 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [u, i, r] = line.split('\t');
      return [u!, i!, Number(r)];
    });
}

describe.skipIf(!present)('MovieLens 100K accuracy targets', () => {
  it('explicit, default settings: fold u1 RMSE < 0.93 (5-fold mean measured 0.913, see README)', async () => {
    const train = matrixFromTriples(read('u1.base'));
    const model = await fitFactors(train, resolveParams({ feedback: 'explicit' }));
    const m = evaluateModel(model, train, alignTestSet(train, read('u1.test')));
    console.log(`ml-100k u1 explicit RMSE ${m.rmse!.toFixed(4)}`);
    expect(m.rmse).toBeLessThan(0.93);
  });

  it('implicit on ua (every rating as 1), 64 factors, λ 0.05, α 0, 15 iterations: ndcg@10 >= 0.245 (benfred/implicit: 0.258)', async () => {
    const train = matrixFromTriples(read('ua.base').map(([u, i]) => [u, i, 1] as const));
    const model = await fitFactors(train, resolveParams({ feedback: 'implicit', factors: 64, lambda: 0.05, alpha: 0, iterations: 15 }));
    const m = evaluateModel(
      model,
      train,
      alignTestSet(
        train,
        read('ua.test').map(([u, i]) => [u, i, 1] as const),
      ),
      { at: 10 },
    );
    console.log(`ml-100k ua implicit ndcg@10 ${m.ndcg.toFixed(4)}`);
    expect(m.ndcg).toBeGreaterThanOrEqual(0.245);
  });
});
