/** Tiny models from the preset registry, as weight files would hold them (fresh weights, seeded). */
import { initPosition, type GopModel, type GopModelConfig } from '../../src/models/gop.ts';
import { initIFrameModel, type IFrameModel, type IFrameModelConfig } from '../../src/models/iframe.ts';
import { encodeModelFile, readModelFile, type LoadedModel } from '../../src/models/model-file.ts';
import { presets } from '../../src/train/presets.ts';

/** The `tiny-perception` preset's I-frame network with both decoders and its critic, through a weight file. */
export async function tinyIFrameModel(seed: number): Promise<LoadedModel & { model: IFrameModel }> {
  const p = presets['tiny-perception']!;
  const config: IFrameModelConfig = { ...(p.model as IFrameModelConfig), critic: p.critic };
  const lm = await readModelFile(encodeModelFile(initIFrameModel(config, seed, ['mmse', 'fmd']), `tiny-${seed}`), `tiny-${seed}`);
  return { ...lm, model: lm.model as IFrameModel };
}

/** The `tiny-pframe-12-12-12-perception` preset's GOP-3 network with every decoder (fresh weights), through a weight file. */
export async function tinyGopModel(seed: number): Promise<LoadedModel & { model: GopModel }> {
  const c = presets['tiny-pframe-12-12-12-perception']!.model as GopModelConfig;
  const m: GopModel = { config: c, iframe: initIFrameModel(c.iframe!, seed, ['mmse', 'fmd']), pframes: [2, 3].map((f) => initPosition(c, f, seed, ['mmse', 'fmd', 'jd'])) };
  const lm = await readModelFile(encodeModelFile(m, `tiny-gop-${seed}`), `tiny-gop-${seed}`);
  return { ...lm, model: lm.model as GopModel };
}
