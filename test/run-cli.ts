import { main } from '../src/cli/main.ts';

/** Runs the CLI in-process, capturing what it prints: exit code and stdout/stderr lines. */
export async function runCli(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...a: unknown[]) => out.push(a.join(' '));
  console.error = (...a: unknown[]) => err.push(a.join(' '));
  try {
    return { code: await main(argv), out, err };
  } finally {
    [console.log, console.error] = [log, error];
  }
}
