import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

test('the package entry, imported by its own name, exposes every stage of the pipeline', async () => {
  const lib = await import('rdp-video');
  for (const name of ['initEngine', 'movingMnistBatch', 'loadKth', 'encodeLatent', 'readRdpv', 'compressIFrames', 'loadZooModel', 'runTraining', 'w2sq', 'analyseJoint']) {
    assert.equal(typeof (lib as Record<string, unknown>)[name], 'function', name);
  }
});

test('the rdpv bin runs the CLI as an installed command would', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { bin: { rdpv: string } };
  const help = execFileSync(process.execPath, [pkg.bin.rdpv, '--help'], { encoding: 'utf8' });
  assert.match(help, /usage: rdpv <command>/);
  for (const command of ['demo', 'data', 'info', 'theory', 'train']) assert.match(help, new RegExp(`\\n  ${command} `));
});
