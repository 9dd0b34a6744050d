import type { Command } from './command.ts';

/** One line per subcommand: the name and a lazy import, so `rdpv --help` stays fast. */
export const commands: Record<string, () => Promise<Command>> = {
  eval: async () => (await import('./eval.ts')).default,
  demo: async () => (await import('./demo.ts')).default,
  encode: async () => (await import('./encode.ts')).default,
  decode: async () => (await import('./decode.ts')).default,
  data: async () => (await import('./data.ts')).default,
  info: async () => (await import('./info.ts')).default,
  models: async () => (await import('./models.ts')).default,
  theory: async () => (await import('./theory.ts')).default,
  train: async () => (await import('./train.ts')).default,
  view: async () => (await import('./view.ts')).default,
  repro: async () => (await import('./repro.ts')).default,
};
