import { programFor } from './base.js';

// Commands report their own errors (runCommand); this catches what escapes them, in one line too.
try {
  await (await programFor(process.argv)).parseAsync(process.argv);
} catch (e) {
  const { errorLine } = await import('./common.js');
  process.stderr.write(`${errorLine(e)}\n`);
  process.exitCode = 1;
}
