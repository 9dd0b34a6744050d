import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const SRC = join(import.meta.dirname, '..', 'src');

/**
 * The layers, lowest first (docs/architecture.md): a folder imports only from its own layer
 * or lower ones; folders that share a layer do not import each other. Top-level files (errors,
 * rng) sit below everything; index.ts, the public API, above everything.
 */
const LAYERS: string[][] = [['engine'], ['codec', 'data', 'theory'], ['models'], ['optim', 'video'], ['eval'], ['train'], ['repro'], ['cli'], ['viewer']];
const rank = (folder: string) => LAYERS.findIndex((l) => l.includes(folder));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

test('no import runs from a lower layer to a higher one, nor between folders of one layer', () => {
  const bad: string[] = [];
  for (const file of files(SRC)) {
    const [folder, ...rest] = relative(SRC, file).split('/');
    if (rest.length === 0) continue; // errors.ts, rng.ts, index.ts
    assert.notEqual(rank(folder!), -1, `src/${folder} is in no layer: add it to LAYERS and docs/architecture.md`);
    for (const [, target] of readFileSync(file, 'utf8').matchAll(/(?:from|import\()\s*'\.\.\/([a-z-]+)\//g)) {
      if (target === folder) continue;
      if (rank(target!) >= rank(folder!)) bad.push(`${relative(SRC, file)} imports src/${target}`);
    }
  }
  assert.deepEqual(bad, []);
});
