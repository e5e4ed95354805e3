/**
 * Scoring kernels for serving: flat loops over row-major Float32Array factors, 4-way unrolled,
 * accumulating in float64 locals. Every hot loop of the serving layer lives here so it can be
 * swapped for WebAssembly SIMD without touching the callers.
 */

/**
 * out[i] = bias[i] + Σ_f u[f]·Q[i·k + f]   for every item i in [0, nItems)
 * (bias null → 0). This is the ranking score p_u·q_i + b_i of an explicit model (μ + b_u is the
 * same for every item, so it does not change the order) and x_u·y_i of an implicit one.
 */
export function scoreAll(
  u: Float32Array,
  q: Float32Array,
  bias: Float32Array | null,
  k: number,
  out: Float32Array | Float64Array,
  nItems: number = out.length,
): void {
  const k4 = k - (k % 4);
  for (let i = 0, o = 0; i < nItems; i++, o += k) {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let f = 0;
    for (; f < k4; f += 4) {
      s0 += u[f]! * q[o + f]!;
      s1 += u[f + 1]! * q[o + f + 1]!;
      s2 += u[f + 2]! * q[o + f + 2]!;
      s3 += u[f + 3]! * q[o + f + 3]!;
    }
    for (; f < k; f++) s0 += u[f]! * q[o + f]!;
    out[i] = s0 + s1 + s2 + s3 + (bias === null ? 0 : bias[i]!);
  }
}

/**
 * Scores four users at once against every item: out_j[i] = bias[i] + Σ_f P[(u_j)·k + f]·Q[i·k + f]
 * for j = 0..3. Each item row is read once for four users, which is what makes the batch
 * precomputation faster than four scoreAll calls. out is 4 × nItems, user j in [j·nItems, (j+1)·nItems).
 */
export function scoreAll4(
  p: Float32Array,
  users: readonly [number, number, number, number],
  q: Float32Array,
  bias: Float32Array | null,
  k: number,
  nItems: number,
  out: Float32Array,
): void {
  const a = users[0] * k;
  const b = users[1] * k;
  const c = users[2] * k;
  const d = users[3] * k;
  for (let i = 0, o = 0; i < nItems; i++, o += k) {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let f = 0; f < k; f++) {
      const x = q[o + f]!;
      s0 += p[a + f]! * x;
      s1 += p[b + f]! * x;
      s2 += p[c + f]! * x;
      s3 += p[d + f]! * x;
    }
    const bi = bias === null ? 0 : bias[i]!;
    out[i] = s0 + bi;
    out[nItems + i] = s1 + bi;
    out[2 * nItems + i] = s2 + bi;
    out[3 * nItems + i] = s3 + bi;
  }
}

/** ‖Q_i‖ = sqrt(Σ_f Q[i·k + f]²) for every row. */
export function rowNorms(q: Float32Array, k: number, nRows: number): Float32Array {
  const out = new Float32Array(nRows);
  for (let i = 0, o = 0; i < nRows; i++, o += k) {
    let s = 0;
    for (let f = 0; f < k; f++) {
      const x = q[o + f]!;
      s += x * x;
    }
    out[i] = Math.sqrt(s);
  }
  return out;
}
