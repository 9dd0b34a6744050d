import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isUserError } from '../errors.ts';
import { wantsHelp } from './args.ts';
import { commands } from './commands.ts';
import { fsErrorLine, guardStdout, stdoutFailure } from './output.ts';

/** The package's version (package.json sits two folders up from both src/cli and dist/cli). */
export function version(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

async function usage(): Promise<string> {
  const lines = ['usage: rdpv <command> [options]', '       rdpv <command> --help   (the command\'s options, their meanings and defaults)', '       rdpv --version', '', 'commands:'];
  for (const [name, load] of Object.entries(commands)) lines.push(`  ${name.padEnd(10)} ${(await load()).summary}`);
  return lines.join('\n');
}

/** The CLI as a function, so tests call it directly. Returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  guardStdout();
  const code = await run(argv);
  // A failed write to stdout is reported on a later tick: let it arrive.
  await new Promise((r) => setImmediate(r));
  const broken = stdoutFailure();
  if (broken === undefined) return code;
  console.error(`rdpv${argv[0] && commands[argv[0]] ? ` ${argv[0]}` : ''}: ${broken}`);
  return code === 0 ? 2 : code;
}

async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    console.log(await usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    console.log(`rdpv ${version()}`);
    return 0;
  }
  const load = commands[name];
  if (!load) {
    console.error(`rdpv: unknown ${name.startsWith('-') ? 'option' : 'command'} '${name}' (try 'rdpv --help')`);
    return 2;
  }
  try {
    const command = await load();
    if (wantsHelp(rest)) {
      console.log(command.usage);
      return 0;
    }
    return await command.run(rest);
  } catch (e) {
    if (isUserError(e)) {
      console.error(`rdpv ${name}: ${e.message}`);
      return e.exitCode;
    }
    // A path the user named that the filesystem refused (read-only, missing, not a folder, full...).
    const fs = fsErrorLine(e);
    if (fs !== undefined) {
      console.error(`rdpv ${name}: ${fs}`);
      return 2;
    }
    console.error(`rdpv ${name}: internal error: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    if (process.env.RDPV_DEBUG) console.error(e);
    return 1;
  }
}

/** True when this module is the program node was started with (through a symlink, as npm's bin links are, too). */
function isEntry(): boolean {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) process.exitCode = await main(process.argv.slice(2));
