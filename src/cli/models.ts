import { statSync } from 'node:fs';
import { folderStore } from '../models/weights-io.ts';
import { zooManifest } from '../models/zoo.ts';
import { optionsHelp, parseFlags, type Flag } from './args.ts';
import type { Command } from './command.ts';

const FLAGS = { json: { type: 'boolean', help: 'print the manifest entries, each with its file size, as one JSON array' } } as const satisfies Record<string, Flag>;

const USAGE = `usage: rdpv models [--json]
Lists the shipped models (models/manifest.json): name, what it is (a codec model by its preset, or a
tool such as the digit classifier), file size (+ the model a file stored as its difference from another
inherits the rest from), sha256, training time and its recorded metrics. The
default model (what demo, encode and eval use without --model) is marked *. Any of them is
--model NAME; a file you trained is --model path/to/model.safetensors.
options:
${optionsHelp(FLAGS)}`;

const hours = (s: number) => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : `${Math.round(s / 60)} min`);

export default {
  summary: 'list the shipped models (the zoo): name, preset, size, sha256, training time, metrics',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const { values } = parseFlags(args, FLAGS);
    const store = folderStore();
    const entries = (await zooManifest(store)).map((e) => ({ ...e, bytes: statSync(store.where(e.file)).size }));
    if (values.json) {
      console.log(JSON.stringify(entries, null, 2));
      return 0;
    }
    for (const e of entries) {
      const metrics = Object.entries(e.metrics).map(([k, v]) => `${k} ${Number(v.toPrecision(4))}`).join(', ');
      console.log(`${e.default ? '*' : ' '} ${e.name.padEnd(20)} ${(e.kind ?? `codec, ${e.preset}`).padEnd(32)} ${(e.bytes / 1e6).toFixed(1).padStart(5)} MB${e.base ? ` (+ ${e.base})` : ''}  sha256 ${e.sha256.slice(0, 12)}  trained ${hours(e.train_seconds)}`);
      if (metrics) console.log(`  ${''.padEnd(20)} ${metrics}`);
    }
    return 0;
  },
} satisfies Command;
