/**
 * Which kernels run the numeric loops: the WebAssembly SIMD module compiled from assembly/ or the
 * plain-TypeScript reference. The one place that reads RIDGEREC_KERNELS.
 */
import { invalidInput } from '../errors.js';

export type KernelChoice = 'wasm' | 'js';

/**
 * The kernels asked for by RIDGEREC_KERNELS: `js` forces the plain-TypeScript kernels; unset,
 * empty, `auto` or `wasm` ask for WebAssembly (used where the runtime supports SIMD and shared
 * memory, else the plain kernels). Any other value is rejected, naming the variable.
 */
export function requestedKernels(env: NodeJS.ProcessEnv = process.env): KernelChoice {
  const raw = (env.RIDGEREC_KERNELS ?? '').trim().toLowerCase();
  if (raw === 'js') return 'js';
  if (raw === '' || raw === 'auto' || raw === 'wasm') return 'wasm';
  throw invalidInput(`RIDGEREC_KERNELS must be js, wasm or auto, got ${JSON.stringify(env.RIDGEREC_KERNELS)}`);
}
