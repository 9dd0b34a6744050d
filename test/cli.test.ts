import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './run-cli.ts';

test('unknown command exits 2 with one line', async () => {
  const { code, err } = await runCli(['no-such-command']);
  assert.equal(code, 2);
  assert.equal(err.length, 1);
  assert.match(err[0]!, /unknown command 'no-such-command'/);
});

test('a bad flag of a command exits 2 with one line naming it, no stack trace', async () => {
  const { code, err } = await runCli(['demo', '--no-such-flag']);
  assert.equal(code, 2);
  assert.equal(err.length, 1);
  assert.match(err[0]!, /no-such-flag/);
});
