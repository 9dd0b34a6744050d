import { readFile } from 'node:fs/promises';
import { UserError } from '../errors.ts';
import { FORMAT_VERSION, frameSpecs, payloadLayout, readRdpv } from '../codec/container.ts';
import type { FrameSpec } from '../codec/rates.ts';
import { optionsHelp, parseFlags, type Flag } from './args.ts';
import type { Command } from './command.ts';

/** "I-frames at 12 bits: 4; P-frames at 4 bits: 8" from the per-frame specs. */
function rateSummary(specs: FrameSpec[]): string {
  const counts = new Map<string, number>();
  for (const s of specs) {
    const key = `${s.kind}-frames at ${s.rate === 'inf' ? 'rate inf (raw pixels)' : `${s.rate} bits`}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([key, n]) => `${key}: ${n}`).join('; ');
}

const FLAGS = { json: { type: 'boolean', help: 'print the header, the file size and the payload layout as one JSON object' } } as const satisfies Record<string, Flag>;

const USAGE = `usage: rdpv info FILE.rdpv [--json]
Shows the header of an .rdpv file in words: the model and its weights' sha256, the frames and
their size, the GOP, the rate of each frame, the dither seed and the payload layout.
options:
${optionsHelp(FLAGS)}`;

export default {
  summary: 'show the header of an .rdpv file (in words, or --json)',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const { values, positionals } = parseFlags(args, FLAGS, true);
    if (positionals.length !== 1) throw new UserError(positionals.length === 0 ? 'no FILE.rdpv given (usage: rdpv info FILE.rdpv [--json])' : `one FILE.rdpv expected, got ${positionals.length}: ${positionals.join(' ')}`);
    const path = positionals[0]!;
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (e) {
      throw new UserError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const { header } = readRdpv(bytes);
    const layout = payloadLayout(header);
    const payload = { bytes: layout.totalBytes, symbolBits: layout.symbolBits, symbolBytes: layout.symbolBytes, rawFrames: layout.rawFrames, rawBytes: layout.rawBytes };
    if (values.json) {
      console.log(JSON.stringify({ file: path, fileBytes: bytes.length, version: FORMAT_VERSION, header, payload }));
      return 0;
    }
    const lines = [
      ['file', `${path} (${bytes.length} bytes, .rdpv version ${FORMAT_VERSION})`],
      ['model', `${header.modelId}, weights sha256 ${header.weightsSha256}`],
      ['frames', `${header.frameCount} of ${header.width}x${header.height} 8-bit grayscale, GOP ${header.gop}`],
      ['rates', rateSummary(frameSpecs(header))],
      ['dither', `seed ${header.ditherSeed}`],
      ['payload', `${payload.bytes} bytes: ${+payload.symbolBits.toFixed(3)} bits of symbols in ${payload.symbolBytes} bytes, ${payload.rawFrames} raw frames in ${payload.rawBytes} bytes`],
    ];
    for (const [k, v] of lines) console.log(`${k!.padEnd(8)} ${v}`);
    return 0;
  },
} satisfies Command;
