/**
 * The one decoder vocabulary, in the paper's terms. Every decoder reads the same messages (the
 * representation is fixed at the encoder); they differ in what their training asks of the output:
 * - mmse: minimum MSE, trained with the encoders;
 * - fmd (0-PLF-FMD): MSE with each frame's marginal law matched (a marginal critic);
 * - jd (0-PLF-JD): MSE with the joint law of all frames so far matched (a joint critic), which
 *   needs the decoder to see its own earlier outputs.
 * Models, trainers, weight files, the container and the CLI take their names from this table.
 */
import { UserError } from '../errors.ts';

export type DecoderName = 'mmse' | 'fmd' | 'jd';
export type CriticKind = 'marginal' | 'joint';

export interface DecoderKind {
  name: DecoderName;
  /** As the paper writes it. */
  title: string;
  /** The group of its weights in a model file (`<prefix>.<param>`). */
  prefix: string;
  /** The critic whose W1 estimate it is trained against; none for mmse. */
  critic: CriticKind | null;
  /** Whether it reads its own earlier outputs (needed to match a joint law over frames). */
  ownPast: boolean;
}

export const DECODERS: Readonly<Record<DecoderName, DecoderKind>> = {
  mmse: { name: 'mmse', title: 'MMSE', prefix: 'mmse', critic: null, ownPast: false },
  fmd: { name: 'fmd', title: '0-PLF-FMD', prefix: 'fmd', critic: 'marginal', ownPast: false },
  jd: { name: 'jd', title: '0-PLF-JD', prefix: 'jd', critic: 'joint', ownPast: true },
};

export const DECODER_NAMES = Object.keys(DECODERS) as DecoderName[];

/** The weight-file group of a critic. */
export const criticPrefix = (k: CriticKind) => `critic.${k}`;

/** Weight names of files written before this table, mapped on read: old prefix -> new prefix. */
export const LEGACY_PREFIXES: Readonly<Record<string, string>> = { dec: DECODERS.mmse.prefix, pdec: DECODERS.fmd.prefix, critic: criticPrefix('marginal') };

export function isDecoderName(s: string): s is DecoderName {
  return s in DECODERS;
}

/** A decoder name as a user writes it (flags); a bad one is a one-line UserError naming the choices. */
export function parseDecoderName(s: string): DecoderName {
  if (!isDecoderName(s)) throw new UserError(`unknown decoder '${s}' (choose one of ${DECODER_NAMES.join(', ')})`);
  return s;
}
