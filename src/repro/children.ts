/**
 * Jobs as child processes of the `rdpv` CLI, their output lines prefixed with the job id (as
 * `rdpv train --jobs N` does), and a signal forwarded to every live child so that training
 * jobs save their checkpoints when the grid is stopped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const RDPV_BIN = fileURLToPath(new URL('../../bin/rdpv.js', import.meta.url));

const live = new Set<ChildProcess>();

/** Run `rdpv ...args`; each output line goes to the same stream prefixed `[prefix] `. Resolves to the exit code (1 when killed by a signal). */
export function runRdpvChild(prefix: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const child = spawn(process.execPath, [RDPV_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  live.add(child);
  for (const [stream, sink] of [[child.stdout, process.stdout], [child.stderr, process.stderr]] as const) {
    createInterface({ input: stream }).on('line', (l) => sink.write(`[${prefix}] ${l}\n`));
  }
  return new Promise<number>((resolve) => {
    child.on('error', (e) => {
      process.stderr.write(`[${prefix}] cannot start: ${e.message}\n`);
      live.delete(child);
      resolve(1);
    });
    child.on('close', (code, signal) => {
      live.delete(child);
      resolve(code ?? (signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 1));
    });
  });
}

/** Send a signal to every running child (a training child saves its checkpoint and exits 130/143). */
export function signalChildren(signal: NodeJS.Signals): number {
  for (const c of live) c.kill(signal);
  return live.size;
}
