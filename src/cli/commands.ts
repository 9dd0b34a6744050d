/** One line per subcommand: the name and a lazy import, so `rdpv --help` stays fast. */
export interface Command {
  summary: string;
  run(args: string[]): Promise<number>;
}

export const commands: Record<string, () => Promise<Command>> = {
  demo: async () => (await import('./demo.ts')).default,
  data: async () => (await import('./data.ts')).default,
  info: async () => (await import('./info.ts')).default,
  theory: async () => (await import('./theory.ts')).default,
  train: async () => (await import('./train.ts')).default,
};
