/** A subcommand of rdpv. main.ts prints `usage` for -h/--help; `run` returns the exit code. */
export interface Command {
  summary: string;
  usage: string;
  run(args: string[]): Promise<number>;
}
