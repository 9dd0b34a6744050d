import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFlags } from '../src/cli/args.ts';
import { commands } from '../src/cli/commands.ts';
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

test('every command and subcommand answers -h/--help with its usage and exit 0, even without required flags', async () => {
  const subcommands: Record<string, string[]> = { data: ['preview', 'bench'], theory: ['fmd', 'jd', 'counterexample', 'low-rate'] };
  for (const name of Object.keys(commands)) {
    for (const sub of [[], ...(subcommands[name] ?? []).map((s) => [s])]) {
      for (const help of ['--help', '-h']) {
        const argv = [name, ...sub, help];
        const { code, out, err } = await runCli(argv);
        assert.equal(code, 0, argv.join(' '));
        assert.deepEqual(err, [], argv.join(' '));
        assert.match(out[0]!, /^usage:/, argv.join(' '));
        const text = out.join('\n');
        assert.ok(text.includes(`rdpv ${name}`) && sub.every((s) => text.includes(s)), argv.join(' '));
      }
    }
  }
});

test('a bad integer, an out-of-range value or a bad choice exits 2 with one line naming the flag and what is allowed', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['train', '--preset', 'x', '--steps', '1.5'], /^rdpv train: --steps must be an integer in \[1, 10000000\], got '1\.5'$/],
    [['train', '--steps', 'ten'], /^rdpv train: --steps must be an integer in \[1, 10000000\], got 'ten'$/],
    [['train', '--jobs', '65'], /^rdpv train: --jobs must be an integer in \[1, 64\], got '65'$/],
    [['train', '--backend', 'gpu'], /^rdpv train: --backend must be one of wasm, cpu, webgpu, got 'gpu'$/],
    [['train', '--lambda=-1'], /^rdpv train: --lambda must be a number >= 0, got '-1'$/],
    [['demo', '--count', '2.5'], /^rdpv demo: --count must be an integer in \[1, 1000\], got '2\.5'$/],
    [['demo', '--count', '0'], /^rdpv demo: --count must be an integer in \[1, 1000\], got '0'$/],
    [['demo', '--seed', ''], /^rdpv demo: --seed must be an integer in \[0, 4294967295\], got ''$/],
    [['data', 'bench', '--mode', 'zigzag'], /^rdpv data: --mode must be one of paper, bounce, got 'zigzag'$/],
    [['data', 'preview', '--digits', '9', '-o', 'x.png'], /^rdpv data: --digits must be an integer in \[1, 8\], got '9'$/],
    [['data', 'preview', '--split', 'val', '-o', 'x.png'], /^rdpv data: --split must be one of train, test, got 'val'$/],
    [['demo', '--count'], /^rdpv demo: Option '--count <value>' argument missing$/],
  ];
  for (const [argv, message] of cases) {
    const { code, out, err } = await runCli(argv);
    assert.equal(code, 2, argv.join(' '));
    assert.deepEqual(out, [], argv.join(' '));
    assert.equal(err.length, 1, argv.join(' '));
    assert.match(err[0]!, message);
  }
});

test('flags left out take their declared defaults; booleans are false', () => {
  const { values, positionals } = parseFlags(['--n', '3', 'file'], {
    n: { type: 'int' }, m: { type: 'int', default: 7 }, x: { type: 'number' }, c: { type: 'choice', choices: ['a', 'b'], default: 'b' }, f: { type: 'boolean' },
  }, true);
  assert.deepEqual(values, { n: 3, m: 7, x: undefined, c: 'b', f: false });
  assert.deepEqual(positionals, ['file']);
});

test('the src/cli modules import each other without a cycle', () => {
  const dir = join('src', 'cli');
  const graph = new Map<string, string[]>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(join(dir, file), 'utf8');
    graph.set(file, [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*)'\.\/([^'/]+\.ts)'/g)].map((m) => m[1]!));
  }
  assert.ok(graph.get('commands.ts')!.includes('demo.ts'), 'sees the lazy imports');
  const done = new Set<string>();
  const visit = (file: string, path: string[]) => {
    assert.ok(!path.includes(file), `import cycle: ${[...path.slice(path.indexOf(file)), file].join(' -> ')}`);
    if (done.has(file)) return;
    for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
    done.add(file);
  };
  for (const file of graph.keys()) visit(file, []);
});

test('rdpv models lists every manifest entry with its size, the default one marked; --json gives the entries', async () => {
  const manifest = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'models', 'manifest.json'), 'utf8')) as { models: { name: string; sha256: string; default?: boolean }[] };
  const { code, out } = await runCli(['models']);
  assert.equal(code, 0);
  for (const m of manifest.models) assert.ok(out.some((l) => l.startsWith(`${m.default ? '*' : ' '} ${m.name} `) && l.includes(m.sha256.slice(0, 12))), `${m.name}: ${out.join('\n')}`);
  const json = await runCli(['models', '--json']);
  const entries = JSON.parse(json.out.join('\n')) as { name: string; bytes: number }[];
  assert.deepEqual(entries.map((e) => e.name), manifest.models.map((m) => m.name));
  assert.ok(entries.every((e) => e.bytes > 0));
});
