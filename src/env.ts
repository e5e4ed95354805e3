/**
 * The environment lookups that worker threads make, apart from src/config.ts so that a worker's
 * start does not load zod and the whole configuration schema (about 0.1 s per worker). config.ts
 * re-exports them; every other variable is read there.
 */

/**
 * RIDGEREC_KERNELS, as set: `js` forces the plain-TypeScript kernels (src/kernels/select.ts decides
 * and validates). Read where the kernels are chosen, training and evaluation workers included,
 * which have no Config.
 */
export function kernelsSetting(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.RIDGEREC_KERNELS;
}
