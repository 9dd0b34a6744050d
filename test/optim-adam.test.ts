import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '../src/engine/index.ts';
import { constVar } from '../src/models/params.ts';
import { Adam } from '../src/optim/adam.ts';

await initEngine({ backend: 'cpu' });

test('Adam first step moves each weight by lr against its gradient sign, scaled by lrScale; frozen variables are left out', () => {
  for (const scale of [1, 0.1]) {
    const params = { w: constVar([3], 1), frozen: constVar([3], 1, false) };
    const adam = new Adam(params, { lr: 0.01, beta1: 0.9, beta2: 0.999 });
    assert.deepEqual(adam.variables(), [params.w]);
    adam.apply({ [params.w.name]: tf.tensor1d([2, -0.5, 1e-3]) }, scale);
    const moved = Array.from(params.w.dataSync(), (v) => (v - 1) / (0.01 * scale));
    moved.forEach((m, i) => assert.ok(Math.abs(m - [-1, 1, -1][i]!) < 1e-3, `weight ${i} moved ${m}`));
    assert.equal(adam.state.t.dataSync()[0], 1);
  }
});
