/**
 * Which kernels run the numeric loops: the WebAssembly SIMD module compiled from assembly/ or the
 * plain-TypeScript reference, as RIDGEREC_KERNELS (src/env.ts) asks.
 */
import { kernelsSetting } from '../env.js';
import { invalidInput } from '../errors.js';

export type KernelChoice = 'wasm' | 'js';

/**
 * The kernels asked for by RIDGEREC_KERNELS: `js` forces the plain-TypeScript kernels; unset,
 * empty, `auto` or `wasm` ask for WebAssembly (used where the runtime supports SIMD and shared
 * memory, else the plain kernels). Any other value is rejected, naming the variable.
 */
export function requestedKernels(setting: string | undefined = kernelsSetting()): KernelChoice {
  const raw = (setting ?? '').trim().toLowerCase();
  if (raw === 'js') return 'js';
  if (raw === '' || raw === 'auto' || raw === 'wasm') return 'wasm';
  throw invalidInput(`RIDGEREC_KERNELS must be js, wasm or auto, got ${JSON.stringify(setting)}`);
}
