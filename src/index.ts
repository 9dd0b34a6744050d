/** The library's public API: one import for each stage of the pipeline. */
export { initEngine, tf, type BackendName, type EngineOptions } from './engine/index.ts';
export { UserError } from './errors.ts';
export { Rng, uniformAt } from './rng.ts';

export type { Split, VideoBatch } from './data/types.ts';
export { mnistDigits } from './data/mnist.ts';
export { movingMnistBatch, movingMnistTrajectory, type MotionMode, type MovingMnistOptions } from './data/moving-mnist.ts';
export { KTH_ACTIONS, loadKth, type KthOptions } from './data/kth.ts';

export { binWidth, decodeLatent, ditherAt, ditherTensor, encodeLatent, levels, quantizeTensor } from './codec/quantizer.ts';
export { frameSpec, RATE_NAMES, type FrameSpec, type LatentSpec, type RateName } from './codec/rates.ts';
export { packSymbols, unpackSymbols } from './codec/packing.ts';
export { readRdpv, RdpvFormatError, writeRdpv, type RdpvHeader } from './codec/container.ts';
export { packPayload, unpackPayload, type FramePayload } from './codec/payload.ts';

export type { FrameSource } from './data/source.ts';
export { movingMnistSource, kthSource } from './data/source.ts';

export { DECODERS, DECODER_NAMES, type DecoderName } from './models/decoders.ts';
export { readModelFile, encodeModelFile, type LoadedModel, type Model, type ModelConfig } from './models/model-file.ts';
export { loadZooModel, loadZooModelBySha, zooManifest, type WeightStore, type ZooEntry } from './models/zoo.ts';
export { folderStore, loadModelArg } from './models/weights-io.ts';
export { compress, decompress, videoCodec } from './video/codec.ts';
export { decode, encode, type DecodeOptions, type EncodeOptions, type ModelSpec } from './video/api.ts';
export type { VideoCodec } from './video/types.ts';
export { evaluate, type EvalResult } from './eval/evaluate.ts';
export { presets, type TrainConfig } from './train/presets.ts';
export { runTraining } from './train/run.ts';

export { transport, w2sq, type Law } from './theory/ot.ts';
export { analyseFmd, analyseJoint } from './theory/discrete.ts';
export { parseSpec, discreteModel, type TheorySpec } from './theory/format.ts';
