import { test } from 'node:test';
import assert from 'node:assert/strict';
import { frameRadices, frameSpec, parseRate, RATE_NAMES } from '../src/codec/rates.ts';
import { UserError } from '../src/errors.ts';

test('P-frame rates follow the paper layout R = 2 d log2 L', () => {
  const p = (rate: (typeof RATE_NAMES)[number]) => frameSpec('P', rate);
  assert.deepEqual(p('3.17').latents, [{ dims: 1, levels: 3 }, { dims: 1, levels: 3 }]);
  assert.equal(p('3.17').bits, 2 * Math.log2(3));
  assert.deepEqual(p('4').latents, [{ dims: 2, levels: 2 }, { dims: 2, levels: 2 }]);
  assert.deepEqual(p('8').latents, [{ dims: 4, levels: 2 }, { dims: 4, levels: 2 }]);
  assert.deepEqual(p('12').latents, [{ dims: 6, levels: 2 }, { dims: 6, levels: 2 }]);
  assert.deepEqual(p('2').latents, [{ dims: 1, levels: 2 }, { dims: 1, levels: 2 }]);
  assert.deepEqual(p('1').latents, [{ dims: 1, levels: 2 }], 'rate 1 sends the motion latent only');
  assert.deepEqual(p('inf').latents, []);
  assert.equal(p('inf').bits, Infinity);
  for (const r of ['1', '2', '4', '8', '12'] as const) assert.equal(p(r).bits, Number(r));
});

test('I-frame rates send one latent of the same number of bits', () => {
  assert.deepEqual(frameSpec('I', '12').latents, [{ dims: 12, levels: 2 }]);
  assert.deepEqual(frameSpec('I', '3.17').latents, [{ dims: 2, levels: 3 }]);
  for (const r of RATE_NAMES) assert.equal(frameSpec('I', r).bits, frameSpec('P', r).bits, `rate ${r}`);
  assert.deepEqual(frameRadices(frameSpec('I', 'inf')), []);
});

test('radices list motion symbols before content symbols', () => {
  assert.deepEqual(frameRadices(frameSpec('P', '3.17')), [3, 3]);
  assert.deepEqual(frameRadices(frameSpec('P', '4')), [2, 2, 2, 2]);
});

test('an unknown rate is a user error naming the choices', () => {
  assert.equal(parseRate('3.17'), '3.17');
  assert.throws(() => parseRate('16'), (e: unknown) => e instanceof UserError && /unknown rate '16'.*1, 2, 3.17, 4, 8, 12, inf/.test(e.message));
});
