/**
 * The paper's rates and their bottleneck layout (DESIGN.md section 3, the paper's code).
 *
 * P-frame: a motion latent and a content latent of d dimensions with L levels each, so
 * R = 2 d log2 L: 2 bits is d=1 L=2 (z_dim 1 in the paper's code), 3.17 is d=1 L=3,
 * 4/8/12 are d=2/4/6 L=2; 1 bit sends the motion latent only (d=1, L=2).
 * I-frame: one latent of R bits: 12 bits = 12 dimensions of 2 levels, as in the paper;
 * other integer rates likewise (R dimensions of 2 levels), 3.17 = 2 dimensions of 3 levels.
 * `inf`: no latents; the decoder receives the frame itself (8-bit pixels in the payload).
 */
import { UserError } from '../errors.ts';

export type RateName = '1' | '2' | '3.17' | '4' | '8' | '12' | 'inf';

/** Every rate, in the order of their codes in the .rdpv header (code = index). */
export const RATE_NAMES: readonly RateName[] = ['1', '2', '3.17', '4', '8', '12', 'inf'];

/** One latent: d dimensions of L levels. */
export interface LatentSpec {
  dims: number;
  levels: number;
}

export interface FrameSpec {
  kind: 'I' | 'P';
  rate: RateName;
  /** I: [latent]; P: [motion, content] or [motion] at rate 1; [] at rate inf. */
  latents: LatentSpec[];
  /** Exactly sum d log2 L; Infinity for inf. */
  bits: number;
}

const one = (dims: number, levels: number): LatentSpec => ({ dims, levels });

const LAYOUT: Record<'I' | 'P', Record<RateName, LatentSpec[]>> = {
  I: { '1': [one(1, 2)], '2': [one(2, 2)], '3.17': [one(2, 3)], '4': [one(4, 2)], '8': [one(8, 2)], '12': [one(12, 2)], inf: [] },
  P: {
    '1': [one(1, 2)],
    '2': [one(1, 2), one(1, 2)],
    '3.17': [one(1, 3), one(1, 3)],
    '4': [one(2, 2), one(2, 2)],
    '8': [one(4, 2), one(4, 2)],
    '12': [one(6, 2), one(6, 2)],
    inf: [],
  },
};

export function isRateName(s: string): s is RateName {
  return (RATE_NAMES as readonly string[]).includes(s);
}

/** Parse a rate as a user writes it (flag values); a bad one is a UserError naming the choices. */
export function parseRate(s: string): RateName {
  if (!isRateName(s)) throw new UserError(`unknown rate '${s}' (choose one of ${RATE_NAMES.join(', ')})`);
  return s;
}

export function frameSpec(kind: 'I' | 'P', rate: RateName): FrameSpec {
  const latents = LAYOUT[kind][rate];
  if (!latents) throw new RangeError(`unknown rate '${rate}'`);
  const bits = rate === 'inf' ? Infinity : latents.reduce((b, l) => b + l.dims * Math.log2(l.levels), 0);
  return { kind, rate, latents: latents.map((l) => ({ ...l })), bits };
}

/** The alphabet size of every symbol of a frame, in send order (motion before content). */
export function frameRadices(spec: FrameSpec): number[] {
  return spec.latents.flatMap((l) => Array<number>(l.dims).fill(l.levels));
}
