import { UserError } from '../errors.ts';
import type { Command } from './command.ts';
import { table1 } from './repro-table1.ts';
import { figures } from './repro-figures.ts';
import { permanence, tradeoff } from './repro-beyond.ts';

/** `rdpv repro TARGET ...`: one experiment of the paper (or beyond it) per target, each in its own file. */
const TARGETS: Record<string, Command> = { table1, merge: table1, fig2: figures, fig3: figures, fig4: figures, permanence, tradeoff };

const names = () => Object.keys(TARGETS).join(', ');
const unique = () => [...new Set(Object.values(TARGETS))];

export default {
  summary: "reproduce the paper's experiments: Table 1 as a grid of jobs that shards over a cluster, its figures, and measurements beyond it",
  get usage() {
    return unique().map((c) => c.usage).join('\n\n');
  },
  async run(args: string[]): Promise<number> {
    const what = args[0];
    const target = what === undefined ? undefined : TARGETS[what];
    if (!target) throw new UserError(what === undefined || what.startsWith('-') ? `which experiment? (${names()}; see rdpv repro --help)` : `unknown target '${what}' (${names()})`);
    return target.run(args);
  },
} satisfies Command;
