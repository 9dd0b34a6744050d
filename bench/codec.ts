// Codec speed benchmark: encode and decode frames per second at batch 1 and batch 64, per
// decoder, through the library (src/video/codec.ts `compress` / `decompress`: the encoder side
// or a decoder's loop plus bit packing, the dither, the .rdpv container and the tensor copies a
// user's call makes), for
// - a GOP-3 model at 12 bits per frame with untrained weights of the cpu preset's shape
//   (`pframe-12-12-12`: I-frame widths 16-32-64-128, P-frame widths 16-32-32-64, 5x5 kernels,
//   mmse, fmd and jd decoders), written and read back as a model file;
// - the shipped I-frame model (`iframe-cpu-12`).
// Batch 1 is one group of pictures per call (a file of one GOP); batch 64 is one file of 64
// groups, which `compress`/`decompress` run as one batch. `decode_fps_b1_network` times the
// decoding loop alone (VideoCodec.decode on ready messages, outputs read back), the part the
// PyTorch peer (bench/peers/codec_pframe.py, the same networks, eval mode, no_grad, the warp
// through grid_sample, as many threads as ours) also runs. Weights do not change the speed.
// Usage: npm run bench:codec [-- --threads N] [--seconds S] [--no-peer] [--profile]
// (--profile also prints where the time of one batch-1 encode and decoding loop goes, per kernel)
// The last line is a JSON object: threads, model, encode_fps_b1, encode_fps_b64, decode_fps_b1
// and decode_fps_b64 (per decoder), decode_fps_b1_network, peer_* (null without torch), iframe
// (the same for the shipped I-frame model), goal, load averages.
import { benchOptions, runPeer, torchPython } from './common.ts';
import { cpus, loadavg } from 'node:os';
import { parseFlags, numberFlag } from '../src/cli/args.ts';
import { UserError } from '../src/errors.ts';
import { initEngine, MAX_WASM_THREADS, tf } from '../src/engine/index.ts';
import { movingMnistBatch } from '../src/data/moving-mnist.ts';
import type { DecoderName } from '../src/models/decoders.ts';
import { initPosition, type GopModel, type GopModelConfig } from '../src/models/gop.ts';
import { initIFrameModel } from '../src/models/iframe.ts';
import { describeModel, disposeModel, encodeModelFile, modelGroups, readModelFile, type LoadedModel } from '../src/models/model-file.ts';
import { trainableVariables } from '../src/models/params.ts';
import { loadZooModel } from '../src/models/zoo.ts';
import { folderStore } from '../src/models/weights-io.ts';
import { presets } from '../src/train/presets.ts';
import { compress, decompress, videoCodec } from '../src/video/codec.ts';
import type { FrameMessage } from '../src/video/types.ts';

const { threads, seconds, noPeer, profile } = benchOptions((argv) => {
  const { values } = parseFlags(argv, {
    threads: { type: 'string' },
    seconds: { type: 'string' },
    'no-peer': { type: 'boolean' },
    profile: { type: 'boolean' },
  });
  const threads = numberFlag('threads', values.threads, 1, 1, MAX_WASM_THREADS);
  if (!Number.isInteger(threads)) throw new UserError(`--threads must be an integer, got ${threads}`);
  return { threads, seconds: numberFlag('seconds', values.seconds, 1.5, 0.1, 60), noPeer: values['no-peer'] === true, profile: values.profile === true };
});

await initEngine({ backend: 'wasm', threads });
const loadStart = loadavg()[0]!;
console.log(`tfjs wasm, ${threads} thread(s); ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown cpu'}); load average (1 min) at start ${loadStart.toFixed(2)}`);

const BATCH = 64;
const DECODERS: DecoderName[] = ['mmse', 'fmd', 'jd'];
const round = (v: number) => Number(v.toFixed(1));
const perDecoder = <T>(f: (d: DecoderName) => T) => Object.fromEntries(DECODERS.map((d) => [d, f(d)])) as Record<DecoderName, T>;

/** Median milliseconds of one call: a warm-up call, then calls until `seconds` have passed and at least `minCalls` ran. */
async function medianMs(call: (i: number) => unknown, minCalls: number): Promise<number> {
  await call(0);
  const times: number[] = [];
  const start = performance.now();
  for (let i = 1; times.length < minCalls || performance.now() - start < seconds * 1000; i++) {
    const t0 = performance.now();
    await call(i);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** Runs `f`, warning when it leaves tensors behind (a benchmark must not measure a leak). */
async function noLeak<T>(what: string, f: () => Promise<T>): Promise<T> {
  const before = tf.memory().numTensors;
  const out = await f();
  const after = tf.memory().numTensors;
  if (after !== before) console.log(`warning: ${what} left ${after - before} tensors behind`);
  return out;
}

// The untrained GOP-3 model: the shapes of preset pframe-12-12-12 (the shipped I-frame config, cpu P-frame widths).
const gopConfig = presets['pframe-12-12-12-mse']!.model as GopModelConfig;
const built: GopModel = {
  config: gopConfig,
  iframe: initIFrameModel(gopConfig.iframe!, 1, ['mmse', 'fmd']),
  pframes: [2, 3].map((frame) => initPosition(gopConfig, frame, 1, DECODERS)),
};
const gopLm = await readModelFile(encodeModelFile(built, 'bench-gop-12-12-12-untrained'), 'bench-gop-12-12-12-untrained');
disposeModel(built);
const iframeLm = await loadZooModel(folderStore(), 'iframe-cpu-12');

/** Trainable parameters of the encoders and decoders (critics left out), as the peer counts its own. */
const paramCount = (lm: LoadedModel) => Object.entries(modelGroups(lm.model)).filter(([g]) => !g.includes('critic')).flatMap(([, t]) => trainableVariables(t)).reduce((n, v) => n + v.size, 0);

// MovingMNIST test sequences (content does not change the work, but this is what a user sends).
const POOL = BATCH;
const sequencesOf = (T: number) => movingMnistBatch({ split: 'test', seed: 9, frames: T }, 0, POOL).data;

/** One call's kernels by total time (tf.profile), after a warm-up call: the top ones and the rest. */
async function profileB1(what: string, call: () => void): Promise<void> {
  call();
  const t0 = performance.now();
  call();
  const wall = performance.now() - t0;
  const info = await tf.profile(call);
  const by = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    const e = by.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += k.kernelTimeMs as number;
    e.calls++;
    by.set(k.name, e);
  }
  const total = [...by.values()].reduce((a, e) => a + e.ms, 0);
  const top = [...by].sort((a, b) => b[1].ms - a[1].ms);
  const rest = top.slice(6).reduce((a, [, e]) => a + e.ms, 0);
  console.log(`profile b1 ${what}: ${wall.toFixed(2)} ms a call, ${total.toFixed(2)} ms in ${info.kernels.length} kernel calls: ` +
    top.slice(0, 6).map(([k, e]) => `${k} ${e.ms.toFixed(2)} (x${e.calls})`).join(', ') + `, others ${rest.toFixed(2)}`);
}

interface Timings {
  encode_fps_b1: number;
  encode_fps_b64: number;
  decode_fps_b1: Record<string, number>;
  decode_fps_b64: Record<string, number>;
  decode_fps_b1_network: Record<string, number>;
}

async function timeModel(lm: LoadedModel, decoders: DecoderName[]): Promise<Timings> {
  const codec = videoCodec(lm.model);
  const T = codec.rates.length;
  const per = T * codec.size * codec.size;
  const seqs = sequencesOf(T);
  const group = (g: number) => seqs.subarray((g % POOL) * per, (g % POOL + 1) * per);
  // One decoder after another: measurements must not overlap.
  const pick = async (f: (d: DecoderName) => Promise<number>) => {
    const out: Record<string, number> = {};
    for (const d of decoders) out[d] = round(await f(d));
    return out;
  };
  const seed = 7;

  // Batch 1: one group per call (a file of one GOP), cycling through the pool.
  const encB1 = await noLeak('encode b1', () => medianMs((i) => compress(lm, group(i), seed + i), 20));
  const files1: Uint8Array[] = [];
  for (let g = 0; g < POOL; g++) files1.push(await compress(lm, group(g), seed + g));
  const decB1 = (d: DecoderName) => noLeak(`decode b1 ${d}`, () => medianMs((i) => decompress(lm, files1[i % POOL]!, d), 20));
  // Batch 64: one file of 64 groups.
  const encB64 = await noLeak('encode b64', () => medianMs(() => compress(lm, seqs, seed), 3));
  const file64 = await compress(lm, seqs, seed);
  const decB64 = (d: DecoderName) => noLeak(`decode b64 ${d}`, () => medianMs(() => decompress(lm, file64, d), 3));

  // The decoding loop alone at batch 1, on messages made once (no unpacking, dither or container).
  // (tidy keeps the tensors of the returned structure and frees the encoder's intermediates)
  const messages = tf.tidy(() => Array.from({ length: 8 }, (_, g) => {
    const frames = Array.from({ length: T }, (_, t) => tf.tensor4d(group(g).subarray(t * codec.size ** 2, (t + 1) * codec.size ** 2), [1, codec.size, codec.size, 1]));
    return codec.encode(frames, { seed, firstGop: g }).messages;
  }) as unknown as tf.TensorContainer) as unknown as FrameMessage[][];
  const decNet = (d: DecoderName) => noLeak(`decode loop b1 ${d}`, () => medianMs((i) => tf.tidy(() => codec.decode(d, messages[i % messages.length]!).forEach((y) => y.dataSync())), 20));

  if (profile) {
    await profileB1('encode', () => tf.tidy(() => codec.encode(Array.from({ length: T }, (_, t) => tf.tensor4d(group(0).subarray(t * codec.size ** 2, (t + 1) * codec.size ** 2), [1, codec.size, codec.size, 1])), { seed, firstGop: 0 }).latents.flat().forEach((z) => z.dataSync())));
    for (const d of decoders) await profileB1(`decode ${d}`, () => tf.tidy(() => codec.decode(d, messages[0]!).forEach((y) => y.dataSync())));
  }
  const t: Timings = {
    encode_fps_b1: round(T / (encB1 / 1000)),
    encode_fps_b64: round((BATCH * T) / (encB64 / 1000)),
    decode_fps_b1: await pick(async (d) => T / ((await decB1(d)) / 1000)),
    decode_fps_b64: await pick(async (d) => (BATCH * T) / ((await decB64(d)) / 1000)),
    decode_fps_b1_network: await pick(async (d) => T / ((await decNet(d)) / 1000)),
  };
  tf.dispose(messages.flatMap((m) => m.flatMap((f) => [...f.latents.flatMap((r) => [r.zq, r.u]), ...(f.raw ? [f.raw] : [])])));
  return t;
}

console.log(`ours: ${gopLm.id} (${describeModel(gopLm.model.config)}, ${paramCount(gopLm)} parameters), frames/s:`);
const gop = await timeModel(gopLm, DECODERS);
console.log(JSON.stringify(gop));
console.log(`ours: ${iframeLm.id} (${describeModel(iframeLm.model.config)}, shipped), frames/s:`);
const iframe = await timeModel(iframeLm, DECODERS);
console.log(JSON.stringify(iframe));

interface PeerResult {
  torch: string;
  threads: number;
  params: number;
  gop: { encode_fps_b1: number; encode_fps_b64: number; decode_fps_b1: Record<string, number>; decode_fps_b64: Record<string, number>; pframe_decode_fps_b1: Record<string, number> };
  iframe: { encode_fps_b1: number; decode_fps_b1: Record<string, number>; decode_fps_b64: Record<string, number> };
}

function codecPeer(): PeerResult | null {
  const python = torchPython(noPeer);
  const run = python === undefined ? null : runPeer<PeerResult>(python, 'codec_pframe.py', [threads, seconds]);
  if (!run) return null;
  for (const l of run.lines) console.log(`peer: ${l}`);
  const r = run.result;
  console.log(`peer (PyTorch ${r.torch}, ${r.threads} thread(s), ${r.params} parameters), frames/s: ${JSON.stringify({ gop: r.gop, iframe: r.iframe })}`);
  return r;
}
const peer = codecPeer();
const loadEnd = loadavg()[0]!;

const GOAL = 100;
const result = {
  threads,
  model: {
    name: gopLm.id, weights: 'untrained (seed 1), shapes of preset pframe-12-12-12', describe: describeModel(gopLm.model.config),
    rates: gopConfig.rates, iframe_widths: gopConfig.iframe!.widths, pframe_widths: gopConfig.pframeWidths, kernel: 5, decoders: DECODERS, params: paramCount(gopLm),
  },
  included: 'b1: compress/decompress of a one-GOP file; b64: of a 64-GOP file (encoder side or decoding loop, dither, bit packing, container, tensor copies); network: the decoding loop alone',
  encode_fps_b1: gop.encode_fps_b1,
  encode_fps_b64: gop.encode_fps_b64,
  decode_fps_b1: gop.decode_fps_b1,
  decode_fps_b64: gop.decode_fps_b64,
  decode_fps_b1_network: gop.decode_fps_b1_network,
  peer_decode_fps_b1: peer?.gop.decode_fps_b1 ?? null,
  peer_decode_fps_b64: peer?.gop.decode_fps_b64 ?? null,
  peer_pframe_decode_fps_b1: peer?.gop.pframe_decode_fps_b1 ?? null,
  peer_encode_fps_b1: peer?.gop.encode_fps_b1 ?? null,
  peer_encode_fps_b64: peer?.gop.encode_fps_b64 ?? null,
  peer: peer ? { torch: peer.torch, threads: peer.threads, params: peer.params } : null,
  iframe: {
    model: iframeLm.id,
    ...iframe,
    peer_encode_fps_b1: peer?.iframe.encode_fps_b1 ?? null,
    peer_decode_fps_b1: peer?.iframe.decode_fps_b1 ?? null,
    peer_decode_fps_b64: peer?.iframe.decode_fps_b64 ?? null,
  },
  goal: {
    decode_fps_b1_at_least: GOAL,
    met: perDecoder((d) => gop.decode_fps_b1[d]! >= GOAL),
    faster_than_peer_b1: peer ? perDecoder((d) => gop.decode_fps_b1[d]! > peer.gop.decode_fps_b1[d]!) : null,
  },
  load_start: Number(loadStart.toFixed(2)),
  load_end: Number(loadEnd.toFixed(2)),
};
console.log(JSON.stringify(result));
