// The package as a user gets it: `npm pack` (which builds dist/ through `prepare`), the tarball
// installed into a scratch project without the network, the API imported from plain Node (no tsx)
// and type-checked from TypeScript, and `npx rdpv` run there.
//
// Offline install: the scratch project gets a lockfile whose entries are this checkout's
// package-lock.json entries for the runtime dependencies (each pinned to its registry tarball by
// integrity) plus the packed tarball, and `npm ci --offline` takes every tarball from the npm
// cache that `npm ci` filled when this checkout was installed: no registry request is made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string; version: string; license: string; bin: Record<string, string>; dependencies: Record<string, string>; engines: Record<string, string>;
  exports: Record<string, { types: string; default: string }>;
};
const npm = (args: string[], cwd: string) => spawnSync('npm', args, { cwd, encoding: 'utf8', timeout: 300_000, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' } });

test('npm pack builds the package; installed offline into a scratch project it imports from plain Node and TypeScript and runs npx rdpv demo', { timeout: 600_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'rdpv-pack-'));
  try {
    // Pack (prepare runs the build into dist/).
    const packed = npm(['pack', '--json', '--pack-destination', work], ROOT);
    assert.equal(packed.status, 0, packed.stderr);
    const info = (JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[])[0]!;
    const files = info.files.map((f) => f.path);
    for (const f of ['package.json', 'README.md', 'bin/rdpv.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/engine/core-gradients.js', 'models/manifest.json', 'models/iframe-cpu-12.safetensors']) {
      assert.ok(files.includes(f), `the tarball holds ${f}`);
    }
    for (const f of files) assert.doesNotMatch(f, /^(src|test|bench|scripts|node_modules|runs|out)\/|\.ts$(?<!\.d\.ts$)|\.tmp-/, `the tarball leaves out ${f}`);
    const manifest = JSON.parse(readFileSync(join(ROOT, 'models', 'manifest.json'), 'utf8')) as { models: { file?: string; name?: string }[] };
    assert.ok(manifest.models.length > 0);

    // A scratch project whose lockfile pins the runtime dependencies as this checkout does.
    const scratch = join(work, 'scratch');
    mkdirSync(scratch);
    const tarball = `file:../${info.filename}`;
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const packages: Record<string, unknown> = {
      '': { name: 'scratch', dependencies: { [pkg.name]: tarball } },
      [`node_modules/${pkg.name}`]: { version: pkg.version, resolved: tarball, license: pkg.license, dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines },
    };
    for (const [path, entry] of Object.entries(lock.packages)) if (path.startsWith('node_modules/') && !entry.dev) packages[path] = entry;
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module', dependencies: { [pkg.name]: tarball } }, null, 2));
    writeFileSync(join(scratch, 'package-lock.json'), JSON.stringify({ name: 'scratch', lockfileVersion: 3, requires: true, packages }, null, 2));
    const installed = npm(['ci', '--offline', '--no-audit', '--no-fund'], scratch);
    assert.equal(installed.status, 0, `npm ci --offline (the dependencies must be in the npm cache, as after npm ci here): ${installed.stderr}`);
    assert.ok(!existsSync(join(scratch, 'node_modules', 'tsx')), 'tsx is not installed: it is a dev dependency');
    assert.ok(!existsSync(join(scratch, 'node_modules', pkg.name, 'src')), 'no TypeScript sources shipped');

    // Plain Node (no loader): the API end to end on the shipped model.
    writeFileSync(join(scratch, 'use.mjs'), `
      import { initEngine, loadZooModel, folderStore, compress, decompress, readRdpv, movingMnistBatch, analyseJoint, presets } from '${pkg.name}';
      await initEngine();
      const lm = await loadZooModel(folderStore(), 'iframe-cpu-12');
      const frames = movingMnistBatch({ split: 'test', seed: 1, frames: 1 }, 0, 2).data;
      const bytes = await compress(lm, frames, 1);
      const back = (await decompress(lm, bytes, 'mmse')).frames;
      console.log(JSON.stringify({ id: lm.id, frames: readRdpv(bytes).header.frameCount, decoded: back.length, analyse: typeof analyseJoint, presets: Object.keys(presets).length > 0 }));
    `);
    const used = spawnSync(process.execPath, ['use.mjs'], { cwd: scratch, encoding: 'utf8' });
    assert.equal(used.status, 0, used.stderr);
    assert.deepEqual(JSON.parse(used.stdout.trim().split('\n').at(-1)!), { id: 'iframe-cpu-12', frames: 2, decoded: 2 * 64 * 64, analyse: 'function', presets: true });

    // TypeScript: a consumer type-checks against the shipped declarations (errors inside tfjs's
    // own declarations, which need @types/long and @types/emscripten, are not ours).
    writeFileSync(join(scratch, 'consumer.ts'), `
      import { initEngine, loadZooModel, folderStore, compress, readRdpv, type LoadedModel, type RdpvHeader, type TrainConfig, presets } from '${pkg.name}';
      await initEngine();
      const lm: LoadedModel = await loadZooModel(folderStore());
      const header: RdpvHeader = readRdpv(await compress(lm, new Float32Array(64 * 64), 1)).header;
      const n: number = header.frameCount;
      const c: TrainConfig | undefined = presets['tiny-mse'];
      // @ts-expect-error: a string is not a frame count
      const wrong: number = header.modelId;
      console.log(n, c?.steps, wrong);
    `);
    writeFileSync(join(scratch, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, typeRoots: [join(ROOT, 'node_modules', '@types')], types: ['node'] },
      files: ['consumer.ts'],
    }));
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', scratch], { cwd: scratch, encoding: 'utf8' });
    const ours = tsc.stdout.split('\n').filter((l) => l.trim() && !l.startsWith('node_modules/@tensorflow/'));
    assert.deepEqual(ours, [], `type errors in the consumer or in ${pkg.name}'s declarations:\n${tsc.stdout}`);

    // npx rdpv: the demo prints what it prints from the sources, and writes its files; training runs (gradients load in plain Node).
    const demo = spawnSync('npx', ['--offline', 'rdpv', 'demo', '--count', '4'], { cwd: scratch, encoding: 'utf8', timeout: 300_000 });
    assert.equal(demo.status, 0, demo.stderr);
    for (const f of ['demo.rdpv', 'demo.gif', 'demo.png']) assert.ok(existsSync(join(scratch, 'out', 'demo', f)), f);
    const fromSources = execFileSync(process.execPath, [join(ROOT, 'bin', 'rdpv.js'), 'demo', '--count', '4', '--out', join(work, 'src-demo')], { encoding: 'utf8' });
    const numbers = (text: string) => text.split('\n').filter((l) => /^(MMSE|0-PLF)/.test(l));
    assert.deepEqual(numbers(demo.stdout), numbers(fromSources), 'the packaged demo prints what the sources print');
    const version = spawnSync('npx', ['--offline', 'rdpv', '--version'], { cwd: scratch, encoding: 'utf8' });
    assert.equal(version.stdout.trim(), `rdpv ${pkg.version}`);
    const train = spawnSync('npx', ['--offline', 'rdpv', 'train', '--preset', 'tiny-mse', '--steps', '2', '--out', 'run'], { cwd: scratch, encoding: 'utf8', timeout: 300_000 });
    assert.equal(train.status, 0, train.stderr);
    assert.ok(existsSync(join(scratch, 'run', 'model.safetensors')));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

// After the pack above (same file, so in order): dist/ is freshly built.
test('the package entry, imported by its own name, exposes every stage of the pipeline', async () => {
  assert.deepEqual(Object.keys(pkg.exports['.']!), ['types', 'default'], 'types first, then the JavaScript');
  const lib = await import('rdp-video');
  for (const name of ['initEngine', 'movingMnistBatch', 'loadKth', 'encodeLatent', 'readRdpv', 'compress', 'decompress', 'loadZooModel', 'runTraining', 'w2sq', 'analyseJoint']) {
    assert.equal(typeof (lib as Record<string, unknown>)[name], 'function', name);
  }
});

test('the rdpv bin runs the CLI as an installed command would', () => {
  const help = execFileSync(process.execPath, [join(ROOT, pkg.bin.rdpv!), '--help'], { encoding: 'utf8' });
  assert.match(help, /usage: rdpv <command>/);
  for (const command of ['demo', 'data', 'info', 'theory', 'train', 'eval', 'encode', 'decode']) assert.match(help, new RegExp(`\\n  ${command} `));
});
