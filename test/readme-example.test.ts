import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = join(import.meta.dirname, '..');

test("the README's library example runs as written and prints each decoder's distortion", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const code = /## Library[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(code, 'README has a ts block under ## Library');
  // The package's own sources stand in for the installed package (test/package.test.ts installs the real one).
  const dir = mkdtempSync(join(tmpdir(), 'rdpv-readme-'));
  const file = join(dir, 'example.mts');
  writeFileSync(file, code.replace("from 'rdp-video'", `from '${pathToFileURL(join(ROOT, 'src', 'index.ts')).href}'`));
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 3, r.stdout);
  for (const [i, name] of ['mmse', 'fmd', 'jd'].entries()) assert.match(lines[i]!, new RegExp(`^${name}: \\d+ bytes, per-pixel MSE 0\\.0\\d{4}$`));
});
