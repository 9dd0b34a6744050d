// What the benchmarks share: reading their options (a bad one is one line and exit 2, as in the
// CLI) and running a PyTorch peer script from bench/peers/.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isUserError } from '../src/errors.ts';

/** `read(argv)`'s options; a UserError it throws is printed as one line and ends the process. */
export function benchOptions<T>(read: (argv: string[]) => T): T {
  try {
    return read(process.argv.slice(2));
  } catch (e) {
    if (!isUserError(e)) throw e;
    console.error(e.message);
    process.exit(e.exitCode);
  }
}

/** The first Python that can import torch (/usr/bin/python3: Debian's python3-torch, then python3), or undefined, saying why. */
export function torchPython(noPeer: boolean): string | undefined {
  if (noPeer) {
    console.log('peer: skipped (--no-peer)');
    return undefined;
  }
  const python = ['/usr/bin/python3', 'python3'].find((py) => spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0);
  if (python === undefined) console.log('peer: skipped, no Python with torch found (tried /usr/bin/python3, python3)');
  return python;
}

/** Run bench/peers/`script` with `args`: its output lines but the last, and the last parsed as JSON; null (said) when it fails. */
export function runPeer<T>(python: string, script: string, args: (string | number)[]): { lines: string[]; result: T } | null {
  const path = fileURLToPath(new URL(`./peers/${script}`, import.meta.url));
  const run = spawnSync(python, [path, ...args.map(String)], { encoding: 'utf8' });
  if (run.status !== 0) {
    console.log(`peer: ${script} failed (${python}): ${run.stderr.trim().split('\n').pop()}`);
    return null;
  }
  const lines = run.stdout.trim().split('\n');
  return { lines: lines.slice(0, -1), result: JSON.parse(lines.at(-1)!) as T };
}
