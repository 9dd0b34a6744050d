/**
 * Copy a finished training run's model into models/ and record it in models/manifest.json:
 *   node --import tsx scripts/ship-model.ts RUN_DIR NAME "COMMAND" [...] [--stage1 RUN_DIR] [--default] [--f16] [--no-critics]
 * RUN_DIR is the run that wrote the model; --stage1 names the MSE run a perception run started
 * from, so the manifest's training time covers both stages. The metrics, times and sha256 come
 * from the runs' own result.json files and the copied file, never typed by hand.
 * --f16 stores the weights as float16 (half the size) after checking that every decoder's
 * outputs on 64 test sequences stay within 1e-3 of float32's on the same messages; the check
 * (and how many latent symbols the float16 encoder changes) goes into the manifest.
 * --no-critics leaves the training critics out (decoding never reads them; evaluation judges with
 * fresh critics): a GOP position's critics are a third of its weights.
 * --base NAME stores only the tensors that differ from the shipped model NAME (the frozen frames a
 * later cell trained on: the 12-bit I-frame, a GOP-3 model's frames 1-2): the file lists what it
 * inherits and pins the base's sha256; loading it through the zoo puts the model back together.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFlags } from '../src/cli/args.ts';
import { frameOf, movingMnistSource } from '../src/data/source.ts';
import { initEngine, tf } from '../src/engine/index.ts';
import { disposeModel, readModelFile, sha256Hex } from '../src/models/model-file.ts';
import { decodeTensorFile, encodeTensorFile, type NamedArrays } from '../src/models/tensor-file.ts';
import { folderStore, writeFileAtomic, ZOO_DIR } from '../src/models/weights-io.ts';
import { storedDifference, zooBase, zooManifest, type ZooEntry } from '../src/models/zoo.ts';
import { videoCodec } from '../src/video/codec.ts';

const USAGE = 'usage: ship-model.ts RUN_DIR NAME "COMMAND" [...] [--stage1 RUN_DIR] [--default] [--f16] [--no-critics] [--base NAME]';
/** Largest decoded difference float16 weights may make, on [0, 1] pixels. */
const F16_TOLERANCE = 1e-3;
let flags;
try {
  flags = parseFlags(process.argv.slice(2), { stage1: { type: 'string' }, default: { type: 'boolean' }, f16: { type: 'boolean' }, 'no-critics': { type: 'boolean' }, base: { type: 'string' } }, true);
} catch (e) {
  console.error(`${(e as Error).message}\n${USAGE}`);
  process.exit(2);
}
const { values: { stage1: stage1Dir, default: isDefault, f16, 'no-critics': noCritics, base }, positionals: [runDir, name, ...commands] } = flags;
if (!runDir || !name || commands.length === 0) {
  console.error(USAGE);
  process.exit(2);
}
const readResult = (dir: string) => JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'));
const result = readResult(runDir);
const stages = [...(stage1Dir ? [readResult(stage1Dir)] : []), result].map((r) => ({ preset: r.preset, steps: r.steps, train_seconds: r.train_seconds }));
const file = `${name}.safetensors`;
let f16Check: ZooEntry['f16_check'];
if (f16 || noCritics || base) {
  const bytes = new Uint8Array(readFileSync(result.model));
  const { arrays, metadata } = decodeTensorFile(bytes, result.model);
  if (noCritics) stripCritics(arrays, metadata);
  const dtype = f16 ? 'F16' as const : 'F32' as const;
  const full = encodeTensorFile(arrays, metadata, { checksum: true });
  let out = f16 ? encodeTensorFile(arrays, metadata, { checksum: true, dtype }) : full;
  if (base) {
    // Inherited tensors are the base's own (float32 where the base is): compared on the float32 file.
    const d = await storedDifference(folderStore(), full, dtype, base);
    console.log(`--base ${base}: ${d.inherited} tensors inherited; ${(out.length / 1e6).toFixed(2)} MB -> ${(d.bytes.length / 1e6).toFixed(2)} MB`);
    out = d.bytes;
  }
  if (f16) {
    f16Check = await checkF16(full, out);
    if (f16Check.max_abs_diff > F16_TOLERANCE) throw new Error(`float16 weights move decoded outputs by ${f16Check.max_abs_diff} (> ${F16_TOLERANCE}): ship float32`);
  }
  writeFileAtomic(join(ZOO_DIR, file), out);
} else {
  copyFileSync(result.model, join(ZOO_DIR, file));
  const copied = await sha256Hex(readFileSync(join(ZOO_DIR, file)));
  if (copied !== result.sha256) throw new Error(`copied file's sha256 ${copied} differs from the run's ${result.sha256}`);
}
const sha256 = await sha256Hex(readFileSync(join(ZOO_DIR, file)));
let models: ZooEntry[] = [];
try {
  models = (await zooManifest(folderStore())).filter((e) => e.name !== name);
} catch {
  // first model: no manifest yet
}
if (isDefault) for (const e of models) delete e.default;
models.push({
  name, file, sha256, ...(isDefault ? { default: true } : {}), commands,
  preset: result.preset, stages, train_seconds: Number(stages.reduce((t, st) => t + st.train_seconds, 0).toFixed(1)), metrics: result.metrics,
  ...(f16Check ? { stored: 'F16' as const, f16_check: f16Check } : {}),
  ...(noCritics ? { critics: false } : {}),
  ...(base ? { base } : {}),
});
writeFileSync(join(ZOO_DIR, 'manifest.json'), JSON.stringify({ models }, null, 2) + '\n');
console.log(`${file} sha256 ${sha256} recorded in models/manifest.json`);

/**
 * Float16 against float32 weights on 64 test sequences (dither seed 1): every decoder of the
 * float16 model decodes the float32 encoder's messages; the largest pixel difference from the
 * float32 decoders, and the share of latent symbols the float16 encoder would send differently.
 */
async function checkF16(full: Uint8Array, half: Uint8Array): Promise<NonNullable<ZooEntry['f16_check']>> {
  await initEngine();
  const [a, b] = [await readModelFile(full, 'float32'), await readModelFile(half, 'float16', zooBase(folderStore()))];
  try {
    return tf.tidy(() => {
      const [ca, cb] = [videoCodec(a.model), videoCodec(b.model)];
      const n = 64;
      const seqs = movingMnistSource({ seed: 1 }).batch('test', 0, n, ca.rates.length);
      const xs = ca.rates.map((_, t) => tf.tensor4d(frameOf(seqs, t), [n, ca.size, ca.size, 1]));
      const key = { seed: 1, firstGop: 0 };
      const [ea, eb] = [ca.encode(xs, key), cb.encode(xs, key)];
      // One decoder at a time: a GOP-3 model's decodings of 64 sequences all held at once overflow the wasm heap.
      const diff = Math.max(...ca.decoders.map((d) => tf.tidy(() => {
        const [ya, yb] = [ca.decode(d, ea.messages), cb.decode(d, ea.messages)];
        return Math.max(...ya.map((y, t) => tf.max(tf.abs(tf.sub(y, yb[t]!))).dataSync()[0]!));
      })));
      let changed = 0, total = 0;
      // The dequantized latents (level - dither, the same dither): equal exactly when the symbol is.
      ea.messages.forEach((m, t) => m.latents.forEach((l, j) => {
        const [za, zb] = [l.zq.dataSync(), eb.messages[t]!.latents[j]!.zq.dataSync()];
        for (let i = 0; i < za.length; i++) changed += za[i] !== zb[i] ? 1 : 0;
        total += za.length;
      }));
      return { sequences: n, max_abs_diff: diff, symbols_changed: total ? changed / total : 0 };
    });
  } finally {
    disposeModel(a.model);
    disposeModel(b.model);
  }
}

/** Drop every critic tensor (`critic.*` groups, also under the I-frame's and positions' prefixes) and the I-frame config's critic, which says the file has one. */
function stripCritics(arrays: NamedArrays, metadata: Record<string, string>): void {
  for (const name of [...arrays.keys()]) if (/(^|\.)critic\./.test(name)) arrays.delete(name);
  const config = JSON.parse(metadata.model!) as { kind: string; critic?: unknown; iframe?: { critic?: unknown } };
  if (config.kind === 'iframe') delete config.critic;
  else delete config.iframe?.critic;
  metadata.model = JSON.stringify(config);
}
