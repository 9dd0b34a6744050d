/** The I-frame model as a VideoCodec: groups of one picture, one latent per frame. */
import { tf } from '../engine/index.ts';
import { ditherTensor, quantizeTensor } from '../codec/quantizer.ts';
import { UserError } from '../errors.ts';
import { DECODERS, type DecoderName } from '../models/decoders.ts';
import { decode, encode, iframeDecoder, type IFrameModel } from '../models/iframe.ts';
import { evalCtx } from '../models/layers.ts';
import type { VideoCodec } from './types.ts';

export function iframeCodec(m: IFrameModel): VideoCodec {
  const { dims, levels, size } = m.net;
  return {
    size,
    rates: [m.config.rate],
    // jd decodes too (it is fmd for one frame), but is not listed twice.
    decoders: (['mmse', 'fmd'] as const).filter((n) => iframeDecoder(m, n) !== undefined),
    encode([x], key) {
      const z = encode(m.enc, x!, evalCtx());
      const u = ditherTensor(key.seed, key.firstGop, [x!.shape[0], dims], levels) as tf.Tensor2D;
      return { messages: [{ latents: [{ zq: quantizeTensor(z, u, levels, 'hard'), u }] }], latents: [[z]] };
    },
    decode(name: DecoderName, [msg]) {
      const dec = iframeDecoder(m, name);
      if (!dec) throw new UserError(`the model has no ${DECODERS[name].title} decoder`);
      const { zq, u } = msg!.latents[0]!;
      return [decode(dec, m.net, zq, u, evalCtx())];
    },
  };
}
