// Every mistake a user can make with rdpv is one line on stderr (no stack trace) and an exit code,
// and no output file is ever left half-written: bad flags, flags that do not apply, ranges,
// output paths the filesystem refuses, a closed or full stdout, signals under --jobs, damaged
// checkpoints and model files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { readRdpv } from '../src/codec/container.ts';
import { DATA_SHA256, decodeTensorFile, encodeTensorFile, sha256Sync, withDataChecksum } from '../src/models/tensor-file.ts';
import { runCli } from './run-cli.ts';

const ROOT = join(import.meta.dirname, '..');
const CLI = join(ROOT, 'bin', 'rdpv.js');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const work = mkdtempSync(join(tmpdir(), 'rdpv-misuse-'));
const dir = (name: string) => {
  const d = join(work, name);
  mkdirSync(d, { recursive: true });
  return d;
};

/** Every file under `d` (relative paths), to show that a failed command left nothing behind. */
const filesUnder = (d: string): string[] => (existsSync(d) ? readdirSync(d, { recursive: true, encoding: 'utf8' }).filter((f) => statSync(join(d, f)).isFile()).sort() : []);

/** The one stderr line of a failed command: exactly one line, no stack trace, the exit code asked. */
function oneLine(code: number, stderr: string, status: number | null, what: string): string {
  const lines = stderr.split('\n').filter((l) => l !== '');
  assert.equal(status, code, `${what}: exit code (stderr: ${stderr})`);
  assert.equal(lines.length, 1, `${what}: one line on stderr, got:\n${stderr}`);
  assert.doesNotMatch(stderr, /^\s+at |internal error|node:internal/m, `${what}: no stack trace`);
  return lines[0]!;
}

/** rdpv as a user runs it: a process, in `cwd`. */
function rdpv(args: string[], options: { cwd?: string; stdout?: number | 'pipe' } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { cwd: options.cwd ?? work, encoding: 'utf8', stdio: ['ignore', options.stdout ?? 'pipe', 'pipe'], timeout: 240_000 });
}

/** rdpv in this process (fast), for mistakes caught before any work. */
async function misuse(argv: string[], message: RegExp, code = 2): Promise<void> {
  const r = await runCli(argv);
  assert.deepEqual(r.out, [], `${argv.join(' ')}: nothing on stdout`);
  assert.match(oneLine(code, r.err.join('\n'), r.code, argv.join(' ')), message, argv.join(' '));
}

// Small tmpfs mounts (root only; skipped elsewhere): a read-only one (EROFS) and a full one (ENOSPC).
const ro = join(work, 'ro');
const full = join(work, 'full');
let mounted = false;
before(() => {
  for (const d of [ro, full]) mkdirSync(d);
  const a = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,ro', 'tmpfs', ro]);
  const b = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4k', 'tmpfs', full]);
  mounted = a.status === 0 && b.status === 0;
  if (mounted) writeFileSync(join(full, 'filler'), new Uint8Array(4096)); // fill the single page
});
after(() => {
  spawnSync('umount', [ro]);
  spawnSync('umount', [full]);
  rmSync(work, { recursive: true, force: true });
});

test('flags: negative numbers read as numbers and are checked against the range (no "argument is ambiguous")', async () => {
  await misuse(['demo', '--count', '-1'], /^rdpv demo: --count must be an integer in \[1, 1000\], got '-1'$/);
  await misuse(['demo', '--seed', '-5'], /^rdpv demo: --seed must be an integer in \[0, 4294967295\], got '-5'$/);
  await misuse(['train', '--preset', 'tiny-perception', '--lambda', '-1'], /^rdpv train: --lambda must be a number >= 0, got '-1'$/);
  await misuse(['train', '--preset', 'tiny-perception', '--lambda', '-.5'], /^rdpv train: --lambda must be a number >= 0, got '-\.5'$/);
  await misuse(['eval', '--first', '-3'], /^rdpv eval: --first must be an integer in \[0, 2147483647\], got '-3'$/);
  await misuse(['data', 'preview', '--frames', '-2', '-o', join(work, 'x.png')], /^rdpv data: --frames must be an integer in \[1, 1000\], got '-2'$/);
  await misuse(['decode', 'x.rdpv', '--decoder', 'mmse', '-o', 'x.png', '--fps', '-1e3'], /^rdpv decode: --fps must be an integer in \[1, 120\], got '-1e3'$/);
  await misuse(['theory', 'low-rate', '--mu', '-0.5'], /^rdpv theory: --mu values must be numbers in \(0, 1\], got '-0\.5'$/);
});

test('flags: fractions, huge counts and non-numbers are refused with the allowed range', async () => {
  await misuse(['train', '--preset', 'tiny-mse', '--jobs', '2.5'], /^rdpv train: --jobs must be an integer in \[1, 64\], got '2\.5'$/);
  await misuse(['train', '--preset', 'tiny-mse', '--steps', '1e12'], /^rdpv train: --steps must be an integer in \[1, 10000000\], got '1e12'$/);
  await misuse(['train', '--preset', 'tiny-mse', '--progress-every', '0'], /^rdpv train: --progress-every must be a number in \[1, 86400\], got '0'$/);
  await misuse(['eval', '--judge-steps', '1e9'], /^rdpv eval: --judge-steps must be an integer in \[0, 1000000\], got '1e9'$/);
  await misuse(['demo', '--count', 'Infinity'], /^rdpv demo: --count must be an integer in \[1, 1000\], got 'Infinity'$/);
  await misuse(['demo', '--count', '0x10'], /^rdpv demo: --count must be an integer in \[1, 1000\], got '0x10'$/);
});

test('flags that do not apply are errors, not ignored', async () => {
  await misuse(['train', '--preset', 'tiny-mse', '--lambda', '0.1'], /^rdpv train: --lambda applies to perception presets only: 'tiny-mse' is an MSE preset$/);
  await misuse(['train', '--preset', 'tiny-mse,tiny-perception', '--lambda', '0.1'], /--lambda applies to perception presets only: 'tiny-mse'/);
  await misuse(['train', '--preset', 'tiny-mse', '--from', 'model.safetensors'], /^rdpv train: --from applies to presets that start from a trained model: 'tiny-mse' starts from scratch$/);
  await misuse(['train', '--preset', 'tiny-mse,tiny-perception', '--from', 'm.safetensors'], /--from applies to one preset at a time/);
  await misuse(['train', '--preset', 'tiny-perception', '--from', 'm.safetensors', '--resume'], /--from applies to a fresh run/);
  await misuse(['train', '--list', '--preset', 'tiny-mse'], /^rdpv train: --list takes no other flag than --all, got --preset$/);
  await misuse(['train', '--preset', 'tiny-mse', '--all'], /^rdpv train: --all applies to --list only$/);
  await misuse(['train', '--preset', 'tiny-mse,tiny-mse'], /preset 'tiny-mse' is given twice/);
  await misuse(['train', '--preset', 'tiny-mse', '--replicas', '5'], /^rdpv train: --replicas 5 cannot split a batch of 4$/);
  await misuse(['train', '--preset', 'tiny-mse', '--replicas', '2', '--backend', 'webgpu'], /^rdpv train: --replicas splits a batch over CPU threads \(wasm, cpu backends\), not over a GPU$/);
  await misuse(['train', '--preset', 'tiny-mse', '--replicas', '0'], /^rdpv train: --replicas must be an integer in \[1, 64\], got '0'$/);
  await misuse(['theory', 'fmd', '--mu', '0.5'], /^rdpv theory: --mu applies to low-rate only$/);
  await misuse(['data', 'preview', '--kth-dir', '/x', '-o', join(work, 'x.png')], /^rdpv data: --kth-dir applies to --dataset kth only$/);
  await misuse(['data', 'preview', '--dataset', 'kth', '--kth-dir', '/x', '--mode', 'bounce', '-o', join(work, 'x.png')], /^rdpv data: --mode applies to --dataset moving-mnist only$/);
  await misuse(['demo', '--bogus'], /^rdpv demo: Unknown option '--bogus'/);
  await misuse(['info'], /^rdpv info: no FILE\.rdpv given/);
  await misuse(['info', 'a.rdpv', 'b.rdpv'], /^rdpv info: one FILE\.rdpv expected, got 2/);
  await misuse(['--bogus'], /^rdpv: unknown option '--bogus'/);
  assert.deepEqual(filesUnder(work).filter((f) => !f.startsWith('ro') && !f.startsWith('full')), [], 'no file written');
});

test('--version prints the package version; every --help names each option with its meaning and default', async () => {
  for (const flag of ['--version', '-V']) {
    const r = await runCli([flag]);
    assert.equal(r.code, 0);
    assert.deepEqual(r.out, [`rdpv ${VERSION}`]);
  }
  const help = async (...argv: string[]) => (await runCli([...argv, '--help'])).out.join('\n');
  const expect: Array<[string[], string[]]> = [
    [['demo'], ['--count N', 'default 8', '--seed N', '--out DIR', 'default out/demo', '--model NAME|FILE']],
    [['train'], ['--preset', '--steps N', '--lambda X', '--out DIR', '--resume', '--from FILE', '--jobs N', 'default 1', '--replicas S', '--backend wasm|cpu', 'default wasm', '--progress-every S', 'default 30', '--list', '--all']],
    [['theory'], ['--source FILE.json', '--json', '--mu', 'default 0.5,0.2', '-o, --out FILE', 'low-rate']],
    [['info'], ['--json', 'FILE.rdpv']],
    [['data', 'preview'], ['--dataset moving-mnist|kth', 'default moving-mnist', '--count N', 'default 8', '--frames N', 'default 3', '-o, --output FILE', '16384']],
    [['data', 'bench'], ['--sequences N', 'default 1000', '--frames N', 'default 20']],
    [['eval'], ['--samples N', 'default 1024', '--dither-seeds K', 'default 3', '-o, --out FILE']],
  ];
  for (const [argv, needles] of expect) {
    const text = await help(...argv);
    for (const n of needles) assert.ok(text.includes(n), `rdpv ${argv.join(' ')} --help mentions '${n}'`);
  }
});

test('test presets (tiny-*) are hidden from --list; --list --all shows them', async () => {
  const list = (await runCli(['train', '--list'])).out;
  assert.ok(list.some((l) => l.startsWith('iframe-cpu-mse ')));
  assert.ok(!list.some((l) => l.startsWith('tiny-')), 'no tiny-* preset listed');
  const all = (await runCli(['train', '--list', '--all'])).out;
  for (const name of ['tiny-mse', 'tiny-nan']) assert.ok(all.some((l) => l.startsWith(`${name} `)), name);
});

test('documented ranges that cannot fit are one clear line before any work; large ones wrap and stay flat in memory', async () => {
  const out = dir('ranges');
  await misuse(['data', 'preview', '--count', '256', '--frames', '1000', '-o', join(out, 'big.png')], /^rdpv data: a preview holds at most 16384 frames \(sequences x frames\), got 256 x 1000 = 256000/);
  await misuse(['data', 'preview', '--count', '256', '--frames', '65', '-o', join(out, 'big.gif')], /at most 16384 frames/);
  assert.deepEqual(filesUnder(out), []);
  // 16 sequences of 1000 frames: wrapped 16 frames to a row (not 66,000 pixels wide).
  const r = await runCli(['data', 'preview', '--count', '16', '--frames', '1000', '-o', join(out, 'long.png')]);
  assert.equal(r.code, 0, r.err.join('\n'));
  const png = PNG.sync.read(readFileSync(join(out, 'long.png')));
  assert.equal(png.width, 16 * 66 - 2);
  assert.equal(png.height, 16 * 63 * 66 - 2 + 15 * 6, 'each sequence in 63 rows of 16, sequences 6 pixels apart');
});

test('output paths the filesystem refuses: one line naming the path, exit 2, nothing written (EEXIST, ENOTDIR, missing folders created)', async () => {
  const d = dir('paths');
  const file = join(d, 'a-file');
  writeFileSync(file, 'x');
  const cases: Array<[string[], RegExp]> = [
    [['demo', '--out', file], /^rdpv demo: cannot use '.*a-file' as the output folder: it exists and is not a folder$/],
    [['demo', '--out', join(file, 'sub')], /^rdpv demo: cannot use '.*a-file\/sub' as the output folder: a part of the path is not a folder \(ENOTDIR\)$/],
    [['train', '--preset', 'tiny-mse', '--out', file], /^rdpv train: cannot use '.*a-file' as the run folder: it exists and is not a folder$/],
    [['train', '--preset', 'tiny-mse', '--out', join(file, 'run')], /^rdpv train: cannot use '.*a-file\/run' as the run folder: .*\(ENOTDIR\)$/],
    [['train', '--preset', 'tiny-mse,tiny-perception', '--out', file], /^rdpv train: cannot use '.*a-file' as the run folder/],
    [['data', 'preview', '-o', join(file, 'x.png')], /^rdpv data: cannot write '.*a-file\/x\.png': '.*a-file' exists and is not a folder$/],
    [['data', 'preview', '-o', d], /^rdpv data: -o must end in \.png or \.gif/],
    [['data', 'preview', '-o', join(d, 'folder.png')], /^rdpv data: cannot write '.*folder\.png': it is a folder$/],
    [['theory', 'fmd', '-o', join(file, 'x.json')], /^rdpv theory: cannot write '.*a-file\/x\.json': '.*a-file' exists and is not a folder$/],
    [['eval', '-o', join(file, 'x.json')], /^rdpv eval: cannot write '.*a-file\/x\.json': '.*a-file' exists and is not a folder$/],
    [['encode', file, '-o', join(file, 'x.rdpv')], /^rdpv encode: cannot write '.*a-file\/x\.rdpv': '.*a-file' exists and is not a folder$/],
    [['decode', file, '--decoder', 'mmse', '-o', join(file, 'x.png')], /^rdpv decode: cannot write '.*a-file\/x\.png': '.*a-file' exists and is not a folder$/],
    [['theory', 'fmd', '-o', '/dev/null'], /^rdpv theory: cannot write '\/dev\/null': it is not a regular file/],
  ];
  mkdirSync(join(d, 'folder.png'));
  for (const [argv, message] of cases) await misuse(argv, message);
  assert.deepEqual(filesUnder(d), ['a-file']);
  // Output folders are created as needed.
  const r = await runCli(['data', 'preview', '--count', '2', '--frames', '2', '-o', join(d, 'new', 'deep', 'x.png')]);
  assert.equal(r.code, 0, r.err.join('\n'));
  const t = await runCli(['theory', 'jd', '-o', join(d, 'json', 'jd.json')]);
  assert.equal(t.code, 0, t.err.join('\n'));
  assert.equal((JSON.parse(readFileSync(join(d, 'json', 'jd.json'), 'utf8')) as { mode: string }).mode, 'jd');
});

test('a read-only file system (EROFS) and a full one (ENOSPC): one line naming the path, exit 2, no partial or temporary file', async (t) => {
  if (!mounted) return t.skip('needs root to mount small tmpfs file systems');
  const cases: Array<[string[], RegExp]> = [
    [['demo', '--out', join(ro, 'demo')], /^rdpv demo: cannot create the output folder '.*ro\/demo': read-only file system \(EROFS\)$/],
    [['demo', '--out', ro], /^rdpv demo: cannot write into the output folder '.*ro': read-only file system \(EROFS\)$/],
    [['train', '--preset', 'tiny-mse', '--out', ro], /^rdpv train: cannot write into the run folder '.*ro': read-only file system \(EROFS\)$/],
    [['train', '--preset', 'tiny-mse', '--out', join(ro, 'run')], /^rdpv train: cannot create the run folder '.*ro\/run': read-only file system \(EROFS\)$/],
    [['data', 'preview', '-o', join(ro, 'x.png')], /^rdpv data: cannot write '.*ro\/x\.png': its folder '.*ro' does not take new files: read-only file system \(EROFS\)$/],
    [['data', 'preview', '-o', join(ro, 'sub', 'x.png')], /^rdpv data: cannot write '.*ro\/sub\/x\.png': cannot create its folder '.*ro\/sub': read-only file system \(EROFS\)$/],
    [['theory', 'fmd', '-o', join(ro, 'x.json')], /^rdpv theory: cannot write '.*ro\/x\.json': its folder .*\(EROFS\)$/],
    [['data', 'preview', '-o', join(full, 'x.png')], /^rdpv data: cannot write '.*full\/x\.png': no space left on device \(ENOSPC\)$/],
    [['theory', 'fmd', '-o', join(full, 'x.json')], /^rdpv theory: cannot write '.*full\/x\.json': no space left on device \(ENOSPC\)$/],
  ];
  for (const [argv, message] of cases) await misuse(argv, message);
  // The demo writes its .rdpv (95 bytes: no room even for that), in a process as a user runs it.
  const r = rdpv(['demo', '--out', full]);
  assert.match(oneLine(2, r.stderr, r.status, 'demo on a full disk'), /^rdpv demo: cannot write '.*full\/demo\.rdpv': no space left on device \(ENOSPC\)$/);
  assert.deepEqual(filesUnder(ro), []);
  assert.deepEqual(filesUnder(full), ['filler'], 'no partial or temporary file on the full disk');
});

test('a folder without write permission (EACCES): one line naming it, exit 2', async (t) => {
  const d = dir('locked');
  const asRoot = process.getuid?.() === 0;
  const setpriv = spawnSync('setpriv', ['--version']).status === 0;
  if (asRoot && !setpriv) return t.skip('root ignores permissions, and setpriv is missing to run as another user');
  const asNobody = (...command: string[]) => spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'env', `HOME=${tmpdir()}`, ...command], { encoding: 'utf8', cwd: tmpdir() });
  if (asRoot && asNobody('test', '-r', CLI).status !== 0) return t.skip(`the checkout is not readable by uid 65534 (a folder above it is private, as mktemp -d makes it), so the CLI cannot run as another user`);
  const run = (args: string[]) => (asRoot ? asNobody(process.execPath, CLI, ...args) : spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' }));
  spawnSync('chmod', ['755', work]);
  spawnSync('chmod', ['555', d]);
  try {
    let r = run(['theory', 'fmd', '-o', join(d, 'x.json')]);
    assert.match(oneLine(2, r.stderr, r.status, 'theory -o locked'), /^rdpv theory: cannot write '.*locked\/x\.json': its folder '.*locked' does not take new files: permission denied \(EACCES\)$/);
    r = run(['data', 'preview', '-o', join(d, 'sub', 'x.png')]);
    assert.match(oneLine(2, r.stderr, r.status, 'data preview -o locked/sub'), /^rdpv data: cannot write '.*locked\/sub\/x\.png': cannot create its folder '.*locked\/sub': permission denied \(EACCES\)$/);
    r = run(['train', '--preset', 'tiny-mse', '--out', d]);
    assert.match(oneLine(2, r.stderr, r.status, 'train --out locked'), /^rdpv train: cannot write into the run folder '.*locked': permission denied \(EACCES\)$/);
  } finally {
    spawnSync('chmod', ['755', d]);
  }
  assert.deepEqual(filesUnder(d), []);
});

test('a closed stdout (| head -1) ends quietly with every file complete; a full one (> /dev/full) is one line, exit 2, files complete', async () => {
  const out = join(work, 'pipe');
  // `rdpv demo | head -1`: read the first line, then close the pipe.
  const child = spawn(process.execPath, [CLI, 'demo', '--out', out], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b) => (stderr += b));
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.stdout.destroy();
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  assert.equal(code, 0, stderr);
  assert.equal(stderr, '', 'nothing on stderr');
  const check = (d: string) => {
    const png = PNG.sync.read(readFileSync(join(d, 'demo.png')));
    assert.ok(png.height > 8 * 2 * 64, 'a row per clip, at scale 2');
    assert.equal(readFileSync(join(d, 'demo.gif')).subarray(0, 6).toString('latin1'), 'GIF89a');
    const { header } = readRdpv(new Uint8Array(readFileSync(join(d, 'demo.rdpv'))));
    assert.equal(header.frameCount, 8 * header.gop, '8 clips of one group each');
    assert.deepEqual(filesUnder(d), ['demo.gif', 'demo.png', 'demo.rdpv'], 'no temporary file');
  };
  check(out);

  const fullOut = join(work, 'devfull');
  const fd = openSync('/dev/full', 'w');
  try {
    const r = rdpv(['demo', '--out', fullOut], { stdout: fd });
    assert.match(oneLine(2, r.stderr, r.status, 'demo > /dev/full'), /^rdpv demo: cannot write to standard output: no space left on device \(ENOSPC\)$/);
    const th = rdpv(['theory', 'fmd', '-o', join(fullOut, 'fmd.json')], { stdout: fd });
    assert.match(oneLine(2, th.stderr, th.status, 'theory > /dev/full'), /^rdpv theory: cannot write to standard output: no space left on device \(ENOSPC\)$/);
    assert.equal((JSON.parse(readFileSync(join(fullOut, 'fmd.json'), 'utf8')) as { mode: string }).mode, 'fmd');
    rmSync(join(fullOut, 'fmd.json'));
  } finally {
    closeSync(fd);
  }
  check(fullOut);
});

test('--jobs: a preset that starts from another runs after it; SIGTERM reaches the child and the parent waits for it', async () => {
  const root = join(work, 'jobs');
  // Listed perception first: it still waits for the MSE stage it starts from.
  const r = rdpv(['train', '--preset', 'tiny-perception,tiny-mse', '--jobs', '2', '--steps', '2', '--out', root]);
  assert.equal(r.status, 0, r.stderr);
  for (const name of ['tiny-mse', 'tiny-perception']) assert.ok(existsSync(join(root, name, 'model.safetensors')), name);
  assert.ok(statSync(join(root, 'tiny-mse', 'model.safetensors')).mtimeMs <= statSync(join(root, 'tiny-perception', 'log.jsonl')).birthtimeMs + 1);

  const out = join(work, 'jobs-term');
  const parent = spawn(process.execPath, [CLI, 'train', '--preset', 'tiny-mse', '--jobs', '2', '--steps', '1000000', '--out', out], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  parent.stderr.on('data', (b) => (stderr += b));
  parent.stdout.resume();
  const ckpt = join(out, 'checkpoint.safetensors'); // one preset: --out is its run folder
  await new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      if (existsSync(ckpt)) {
        clearInterval(poll);
        resolve();
      }
    }, 50);
    setTimeout(() => {
      clearInterval(poll);
      parent.kill('SIGKILL');
      reject(new Error(`no checkpoint after 120 s: ${stderr}`));
    }, 120_000).unref();
    parent.on('exit', () => {
      clearInterval(poll);
      reject(new Error(`parent ended early: ${stderr}`));
    });
  });
  const child = spawnSync('pgrep', ['-P', String(parent.pid)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map(Number);
  assert.equal(child.length, 1, 'one child training');
  parent.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => parent.on('close', (c) => resolve(c)));
  assert.equal(code, 143, stderr);
  assert.throws(() => process.kill(child[0]!, 0), 'the child has exited before the parent');
  assert.match(stderr, /\[tiny-mse\] SIGTERM: checkpoint saved at step \d+\/1000000; continue with --resume/);
  const step = Number(decodeTensorFile(readFileSync(ckpt), ckpt).metadata.step);
  assert.ok(step >= 3);
});

test('checkpoints and --from models carry a checksum: a flipped byte is one line, exit 2; a file without one still loads', async () => {
  const out = join(work, 'sum');
  let r = rdpv(['train', '--preset', 'tiny-mse', '--steps', '6', '--out', join(out, 'mse')]);
  assert.equal(r.status, 0, r.stderr);
  const ckpt = join(out, 'mse', 'checkpoint.safetensors');
  const model = join(out, 'mse', 'model.safetensors');
  for (const f of [ckpt, model]) assert.match(decodeTensorFile(readFileSync(f), f).metadata[DATA_SHA256] ?? '', /^[0-9a-f]{64}$/, f);

  const good = readFileSync(ckpt);
  const flipped = new Uint8Array(good);
  flipped[flipped.length - 3]! ^= 0x10;
  writeFileSync(ckpt, flipped);
  r = rdpv(['train', '--preset', 'tiny-mse', '--steps', '8', '--out', join(out, 'mse'), '--resume']);
  assert.match(oneLine(2, r.stderr, r.status, 'resume from a damaged checkpoint'), /^rdpv train: .*checkpoint\.safetensors: not a valid weights file \(checksum mismatch: .*the file is damaged\)$/);

  const bad = new Uint8Array(readFileSync(model));
  bad[bad.length - 5]! ^= 0x01;
  writeFileSync(join(out, 'bad.safetensors'), bad);
  r = rdpv(['train', '--preset', 'tiny-perception', '--steps', '1', '--out', join(out, 'p'), '--from', join(out, 'bad.safetensors')]);
  assert.match(oneLine(2, r.stderr, r.status, '--from a damaged model'), /^rdpv train: .*bad\.safetensors: not a valid weights file \(checksum mismatch/);
  assert.ok(!existsSync(join(out, 'p', 'model.safetensors')));

  // A checkpoint written before checksums (no data_sha256) still resumes.
  const { arrays, metadata } = decodeTensorFile(good, ckpt);
  delete metadata[DATA_SHA256];
  writeFileSync(ckpt, encodeTensorFile(arrays, metadata));
  r = rdpv(['train', '--preset', 'tiny-mse', '--steps', '8', '--out', join(out, 'mse'), '--resume']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /resuming tiny-mse at step 6\/8/);
});

test('the checksum is SHA-256 (as node:crypto computes it), over the data section only', () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 1000, 65_537]) {
    const b = new Uint8Array(randomBytes(n));
    assert.equal(sha256Sync(b), createHash('sha256').update(b).digest('hex'), `${n} bytes`);
  }
  const plain = encodeTensorFile(new Map([['t', { shape: [3], data: new Float32Array([1, -2, 3.5]) }]]), { name: 'ü-x' });
  const summed = withDataChecksum(plain);
  const { arrays, metadata } = decodeTensorFile(summed, 'f');
  assert.deepEqual(Array.from(arrays.get('t')!.data), [1, -2, 3.5]);
  assert.equal(metadata.name, 'ü-x');
  assert.equal(metadata[DATA_SHA256], createHash('sha256').update(plain.subarray(plain.length - 12)).digest('hex'));
  assert.equal(new DataView(summed.buffer).getBigUint64(0, true) % 8n, 0n, 'the data section stays 8-byte aligned');
});

test('with stderr not a terminal, training prints a plain progress line (step, loss, rate, ETA) every --progress-every seconds', () => {
  const r = rdpv(['train', '--preset', 'tiny-mse', '--steps', '400', '--progress-every', '1', '--out', join(work, 'progress')]);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => /^tiny-mse: step /.test(l));
  assert.ok(lines.length >= 1, r.stderr);
  for (const l of lines) assert.match(l, /^tiny-mse: step \d+\/400 \(\d+\.\d%\) mse \S+, [\d.]+ samples\/s, ETA \d+m\d\ds$/);
  assert.doesNotMatch(r.stderr, /\r/, 'no carriage-return progress bar when not on a terminal');
});
