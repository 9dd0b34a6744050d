import { pathToFileURL } from 'node:url';
import { isUserError } from '../errors.ts';
import { wantsHelp } from './args.ts';
import { commands } from './commands.ts';

async function usage(): Promise<string> {
  const lines = ['usage: rdpv <command> [options]', '', 'commands:'];
  for (const [name, load] of Object.entries(commands)) lines.push(`  ${name.padEnd(10)} ${(await load()).summary}`);
  return lines.join('\n');
}

/** The CLI as a function, so tests call it directly. Returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    console.log(await usage());
    return name === undefined ? 2 : 0;
  }
  const load = commands[name];
  if (!load) {
    console.error(`rdpv: unknown command '${name}' (try 'rdpv --help')`);
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
    console.error(`rdpv ${name}: internal error: ${e instanceof Error ? e.message : String(e)}`);
    if (process.env.RDPV_DEBUG) console.error(e);
    return 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await main(process.argv.slice(2));
}
