import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './run-cli.ts';
import { builtins } from '../src/theory/builtins.ts';

/** Run the CLI, capturing stdout and stderr lines. */
async function run(args: string[]): Promise<{ code: number; out: string; err: string[] }> {
  const r = await runCli(['theory', ...args]);
  return { ...r, out: r.out.join('\n') };
}

const dir = mkdtempSync(join(tmpdir(), 'rdpv-theory-'));
function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}
const good = { source: { support: [[[0], [0]], [[1], [1]]], p: [0.5, 0.5] }, encoder: { messages: [['a', 0], ['a', 1]] } };

test('theory jd --json reports mmse, w2sq, fmd, jd and the factor-two flag per frame', async () => {
  const r = await run(['jd', '--source', file('good.json', good), '--json']);
  assert.equal(r.code, 0);
  const frames = JSON.parse(r.out).frames as Record<string, unknown>[];
  assert.equal(frames.length, 2);
  for (const f of frames) for (const k of ['mmse', 'w2sq', 'fmd', 'jd', 'fmd_within_factor_two']) assert.ok(k in f, k);
  // X_2 = X_1, a uniform bit; M_1 says nothing, M_2 = X_2. JD frame 2 = sum_x1 1/2 W2^2(Bern(1/2), delta_x1) = 1/2.
  assert.deepEqual(frames.map((f) => [f.mmse, f.fmd, f.jd]), [[0.25, 0.5, 0.5], [0, 0, 0.5]]);
});

test('theory fmd without --source uses the built-in source and prints a table', async () => {
  const r = await run(['fmd']);
  assert.equal(r.code, 0);
  assert.match(r.out, /built-in 'binary-markov'/);
  assert.match(r.out, /frame\s+mmse\s+w2sq\s+fmd/);
});

test('theory counterexample and low-rate report the factor-two failure and the ratio sweep', async () => {
  const ce = JSON.parse((await run(['counterexample', '--json'])).out);
  assert.deepEqual(ce.closed_form_jd, [2, 2]);
  assert.equal(ce.frames[1].jd_within_factor_two, false);
  const lr = JSON.parse((await run(['low-rate', '--mu', '0.5,0.01', '--json'])).out);
  assert.deepEqual(lr.points.map((p: { mu: number }) => p.mu), [0.5, 0.01]);
  const ratio = lr.points[1].frames[0].jd_over_mmse;
  assert.ok(ratio > 1.97 && ratio <= 2, String(ratio));
});

test('theory fmd on a Gaussian example file works and jd says it needs a discrete source', async () => {
  const f = join('examples', 'theory', 'gaussian-quantizer.json');
  const r = await run(['fmd', '--source', f, '--json']);
  assert.equal(r.code, 0);
  assert.equal(JSON.parse(r.out).frames.length, 2);
  const jd = await run(['jd', '--source', f]);
  assert.equal(jd.code, 2);
  assert.match(jd.err[0]!, /discrete sources only/);
});

test('every example file runs, and the built-in sources equal their example files', async () => {
  for (const name of readdirSync(join('examples', 'theory'))) {
    const path = join('examples', 'theory', name);
    const spec = JSON.parse(readFileSync(path, 'utf8'));
    const mode = !spec.encoder ? (name.startsWith('counterexample') ? 'counterexample' : 'low-rate') : 'fmd';
    assert.equal((await run([mode, '--source', path, '--json'])).code, 0, name);
  }
  for (const [name, spec] of Object.entries(builtins)) {
    assert.deepEqual(JSON.parse(readFileSync(join('examples', 'theory', `${name}.json`), 'utf8')), JSON.parse(JSON.stringify(spec)), name);
  }
});

test('bad input gives one line naming the field and exit code 2', async () => {
  const cases: [unknown, RegExp][] = [
    [{ ...good, source: { ...good.source, p: [1.1, -0.1] } }, /^rdpv theory: source\.p\[1\]: probability -0\.1 is negative$/],
    [{ ...good, source: { ...good.source, p: [0.5, 0.4] } }, /source\.p: probabilities sum to 0\.9, not 1/],
    [{ ...good, source: { ...good.source, support: [[[0], [0]], [[1], [1, 2]]] } }, /source\.support\[1\]\[1\]: frame has 2 values, expected 1/],
    [{ ...good, source: { ...good.source, support: [[[0], [0]], [[1]]] } }, /source\.support\[1\]: has 1 frames, expected 2/],
    [{ ...good, extra: 1 }, /\(top level\)\.extra: unknown key/],
    [{ ...good, encoder: { messages: [['a', 0], ['a', 1.5]] } }, /encoder\.messages\[1\]\[1\]: message must be a string or an integer/],
    [{ ...good, encoder: { k: { p: [0.5, 0.5], messages: [[['a', 0], ['a', 1]]] } } }, /encoder\.k\.messages: has 1 entries, expected 2/],
    ['{"source": ', /invalid JSON/],
  ];
  for (const [i, [content, pattern]] of cases.entries()) {
    const r = await run(['jd', '--source', file(`bad${i}.json`, content)]);
    assert.equal(r.code, 2, String(pattern));
    assert.equal(r.err.length, 1);
    assert.match(r.err[0]!, pattern);
  }
  const missing = await run(['fmd', '--source', join(dir, 'nope.json')]);
  assert.equal(missing.code, 2);
  assert.match(missing.err[0]!, /cannot read .*nope\.json: ENOENT/);
  assert.equal((await run(['sideways'])).code, 2);
  assert.equal((await run(['fmd', '--mu', '0.1'])).code, 2);
  assert.equal((await run(['low-rate', '--mu', '0'])).code, 2);
});
