/** Tiny models from the preset registry, as weight files would hold them (fresh weights, seeded). */
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
