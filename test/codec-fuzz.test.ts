import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classify, randomFile, runFuzz } from '../src/codec/fuzz.ts';
import { Rng } from '../src/rng.ts';

test('10,000 damaged files give only typed errors or exact round trips', () => {
  const started = performance.now();
  const report = runFuzz(10_000, 2024);
  assert.deepEqual(report.failures, []);
  assert.equal(report.other_failures, 0);
  assert.equal(report.typed_errors + report.roundtrips, 10_000);
  // Both outcomes occur: damage with a recomputed CRC that stays well-formed must round-trip.
  assert.ok(report.typed_errors > 5000 && report.roundtrips > 100, JSON.stringify(report));
  assert.ok(performance.now() - started < 20_000);
});

test('undamaged random files round-trip and the classifier flags non-typed failures', () => {
  for (let i = 0; i < 50; i++) assert.equal(classify(randomFile(new Rng(3, i)).bytes).outcome, 'roundtrip');
  // A view whose reads throw a plain Error stands in for a reader bug: it must count as a failure.
  const trap = new Proxy(randomFile(new Rng(3, 0)).bytes, {
    get(target, key) {
      if (key === 'subarray') throw new Error('boom');
      const v = Reflect.get(target, key, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  assert.deepEqual(classify(trap), { outcome: 'other_failure', detail: 'Error: boom' });
});
