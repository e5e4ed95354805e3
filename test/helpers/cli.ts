/**
 * Runs the real commander program in-process (no child process: fast on 2 shared cores),
 * capturing stdout/stderr and the exit code.
 */
import { vi } from 'vitest';
import { programFor } from '../../src/cli/base.js';

export interface InProcessResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

class ExitCalled extends Error {
  constructor(readonly code: number) {
    super(`process.exit(${code})`);
  }
}

/** Runs `ridgerec ...args` in this process; usage errors (commander → process.exit(2)) become code 2. */
export async function runInProcess(args: readonly string[]): Promise<InProcessResult> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  const exit = vi.spyOn(process, 'exit').mockImplementation((code?: string | number | null) => {
    throw new ExitCalled(Number(code ?? 0));
  });
  const before = process.exitCode;
  process.exitCode = undefined;
  let code: number;
  try {
    const argv = ['node', 'ridgerec', ...args];
    await (await programFor(argv)).parseAsync(argv);
    code = Number(process.exitCode ?? 0);
  } catch (e) {
    if (!(e instanceof ExitCalled)) throw e;
    code = e.code;
  } finally {
    out.mockRestore();
    err.mockRestore();
    exit.mockRestore();
    process.exitCode = before;
  }
  return { code, stdout, stderr };
}
