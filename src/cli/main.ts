import { errorLine } from './common.js';
import { buildProgram } from './program.js';

// Commands report their own errors (runCommand); this catches what escapes them, in one line too.
try {
  await buildProgram().parseAsync(process.argv);
} catch (e) {
  process.stderr.write(`${errorLine(e)}\n`);
  process.exitCode = 1;
}
