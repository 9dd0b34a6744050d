// `rdpv view`'s server without a browser: what it serves, what it refuses, and its one-line errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileUnder, startViewer } from '../src/cli/view.ts';
import { writeRdpv } from '../src/codec/container.ts';
import { UserError } from '../src/errors.ts';
import { ZOO_DIR } from '../src/models/weights-io.ts';
import { codecEntries } from '../src/models/zoo.ts';
import { fetchStore } from '../src/viewer/fetch-store.ts';
import { ModelShelf } from '../src/viewer/session.ts';
import { runCli } from './run-cli.ts';

const root = mkdtempSync(join(tmpdir(), 'rdpv-view-server-'));
const page = join(root, 'page');
mkdirSync(join(page, 'assets'), { recursive: true });
writeFileSync(join(page, 'index.html'), '<!doctype html><title>viewer</title>');
writeFileSync(join(page, 'assets', 'app.js'), 'export {};');
writeFileSync(join(root, 'secret.txt'), 'not for the browser');
const manifest = JSON.parse(readFileSync(join(ZOO_DIR, 'manifest.json'), 'utf8')) as { models: { name: string; file: string; sha256: string; kind?: 'classifier' }[] };

/** A raw request (no URL normalisation, so `..` reaches the server as written). */
function raw(url: string, path: string, options: { method?: string; headers?: Record<string, string>; body?: Uint8Array } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const u = new URL(url);
  return new Promise((ok, fail) => {
    const req = request({ host: u.hostname, port: u.port, path, method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => ok({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', fail);
    req.end(options.body);
  });
}

test('the server serves the page, the manifest and the weights, and nothing outside them', async () => {
  const viewer = await startViewer({ pageDir: page, port: 0 });
  try {
    assert.match(viewer.url, /^http:\/\/127\.0\.0\.1:\d+\/$/, 'loopback only by default');
    const index = await raw(viewer.url, '/');
    assert.equal(index.status, 200);
    assert.match(String(index.headers['content-type']), /^text\/html/);
    assert.equal((await raw(viewer.url, '/assets/app.js')).headers['content-type'], 'text/javascript; charset=utf-8');
    const served = JSON.parse((await raw(viewer.url, '/models/manifest.json')).body.toString()) as typeof manifest;
    assert.deepEqual(served.models.map((m) => m.sha256), manifest.models.map((m) => m.sha256));
    const weights = await raw(viewer.url, `/models/${manifest.models[0]!.file}`);
    assert.deepEqual(new Uint8Array(weights.body), new Uint8Array(readFileSync(join(ZOO_DIR, manifest.models[0]!.file))));
    const session = JSON.parse((await raw(viewer.url, '/api/session')).body.toString()) as { clip: unknown; source: unknown };
    assert.deepEqual([session.clip, session.source], [null, null]);
    for (const path of [
      '/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/assets/../../secret.txt', '/assets/..%2f..%2fsecret.txt', '/%2e%2e%2fsecret.txt',
      '/..\\secret.txt', '/assets%5c..%5c..%5csecret.txt', '/models/../secret.txt', '/models/..%2f..%2fpackage.json', '/models/%2e%2e/manifest.json',
      '/assets', '/nothing.html', '/index.html%00.js', '/%E0%A4%A', '/clip.rdpv', '/clip-source.f32',
    ]) {
      const r = await raw(viewer.url, path);
      assert.equal(r.status, 404, path);
      assert.ok(!r.body.toString().includes('not for the browser'), path);
    }
    assert.equal((await raw(viewer.url, '/', { headers: { host: 'evil.example' } })).status, 403, 'a foreign Host header (DNS rebinding)');
    assert.equal((await raw(viewer.url, '/', { method: 'DELETE' })).status, 405);
  } finally {
    await viewer.close();
  }
});

test('fileUnder resolves only files inside the folder', () => {
  assert.equal(fileUnder(page, '/index.html'), join(page, 'index.html'));
  assert.equal(fileUnder(page, '/assets/app.js'), join(page, 'assets', 'app.js'));
  for (const p of ['/../secret.txt', '/assets/../../secret.txt', '/%2e%2e/secret.txt', '/a%00', '/assets', '/', '/%']) assert.equal(fileUnder(page, p), undefined, p);
});

test('the MovingMNIST and frames helpers return float32 frames, and bad requests one line with status 400', async () => {
  const viewer = await startViewer({ pageDir: page, port: 0 });
  try {
    const clip = await raw(viewer.url, '/api/moving-mnist?frames=3&seed=2');
    assert.equal(clip.status, 200);
    assert.equal(clip.body.length, 3 * 64 * 64 * 4);
    assert.equal(clip.headers['x-frames'], '3');
    const bad = await raw(viewer.url, '/api/moving-mnist?frames=0');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.toString(), "frames must be an integer in [1, 240], got '0'");

    // A 2-frame 8x8 uint8 .npy, read as 64x64 frames (resized, with a note saying so).
    let header = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 8, 8), }";
    header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
    const npy = new Uint8Array(10 + header.length + 128);
    npy.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    new DataView(npy.buffer).setUint16(8, header.length, true);
    npy.set(new TextEncoder().encode(header), 10);
    npy.fill(255, 10 + header.length);
    const frames = await raw(viewer.url, '/api/frames?name=tiny.npy&size=64', { method: 'POST', body: npy });
    assert.equal(frames.status, 200, frames.body.toString());
    assert.equal(frames.headers['x-frames'], '2');
    const values = new Float32Array(frames.body.buffer.slice(frames.body.byteOffset, frames.body.byteOffset + frames.body.length));
    assert.equal(values.length, 2 * 64 * 64);
    assert.ok(values.every((v) => Math.abs(v - 1) < 1e-6));
    assert.match(decodeURIComponent(String(frames.headers['x-note'])), /resized 8x8 to 64x64/);

    const short = await raw(viewer.url, '/api/frames?name=tiny.npy&size=64&gop=3', { method: 'POST', body: npy });
    assert.equal(short.status, 400);
    assert.equal(short.body.toString(), 'tiny.npy: 2 frames, fewer than one group of 3');

    const garbage = await raw(viewer.url, '/api/frames?name=clip.gif', { method: 'POST', body: new TextEncoder().encode('not a gif') });
    assert.equal(garbage.status, 400);
    assert.match(garbage.body.toString(), /^clip\.gif: /);
    assert.ok(!garbage.body.toString().includes(tmpdir()), 'the message names the dropped file, not a temporary path');
  } finally {
    await viewer.close();
  }
});

test('a clip on the command line is served with its source; a clip of unknown weights needs --model', async () => {
  const sha = manifest.models[0]!.sha256;
  const clip = join(root, 'clip.rdpv');
  writeFileSync(clip, writeRdpv({ modelId: 'm', weightsSha256: sha, width: 64, height: 64, frameCount: 1, gop: 1, rates: ['12'], ditherSeed: 0 }, new Uint8Array(2)));
  const viewer = await startViewer({ pageDir: page, port: 0, clip });
  try {
    const session = JSON.parse((await raw(viewer.url, '/api/session')).body.toString()) as { clip: { name: string; url: string } };
    assert.deepEqual(session.clip, { name: 'clip.rdpv', url: 'clip.rdpv' });
    assert.deepEqual(new Uint8Array((await raw(viewer.url, '/clip.rdpv')).body), new Uint8Array(readFileSync(clip)));
  } finally {
    await viewer.close();
  }
  const other = join(root, 'other.rdpv');
  writeFileSync(other, writeRdpv({ modelId: 'mine', weightsSha256: 'ab'.repeat(32), width: 64, height: 64, frameCount: 1, gop: 1, rates: ['12'], ditherSeed: 0 }, new Uint8Array(2)));
  await assert.rejects(startViewer({ pageDir: page, port: 0, clip: other }), (e: Error) => e instanceof UserError && /made by model 'mine' \(weights (ab){6}\.\.\.\), which is not a shipped model: pass its weight file with --model$/.test(e.message));

  // --model adds the file to the manifest the page reads; the page's store finds it by sha256.
  const weights = join(root, 'mine.safetensors');
  writeFileSync(weights, readFileSync(join(ZOO_DIR, manifest.models[0]!.file)).subarray(0)); // same bytes: already shipped, not listed twice
  const again = await startViewer({ pageDir: page, port: 0, model: weights });
  try {
    const shelf = new ModelShelf(fetchStore(new URL('models/', again.url).href));
    assert.deepEqual((await shelf.entries()).map((e) => e.sha256), codecEntries(manifest.models).map((m) => m.sha256));
  } finally {
    await again.close();
  }
});

test('rdpv view: a missing page, a busy port, a bad flag and a corrupt clip are one line each, exit 2', async () => {
  await assert.rejects(startViewer({ pageDir: join(root, 'nowhere'), port: 0 }), /the viewer page is not built \(.*index\.html is missing\): run npm run build:viewer$/);
  const busy = createServer();
  await new Promise<void>((ok) => busy.listen(0, '127.0.0.1', ok));
  const port = (busy.address() as { port: number }).port;
  try {
    await assert.rejects(startViewer({ pageDir: page, port }), new RegExp(`^UserError: port ${port} on 127\\.0\\.0\\.1 is in use: pass another --port \\(0 picks a free one\\)$`));
  } finally {
    busy.close();
  }
  const notWeights = join(root, 'garbage.safetensors');
  writeFileSync(notWeights, 'garbage!garbage!');
  await assert.rejects(startViewer({ pageDir: page, port: 0, model: notWeights }), /garbage\.safetensors: not a valid weights file/);
  await assert.rejects(startViewer({ pageDir: page, port: 0, model: join(root, 'nope.safetensors') }), /^UserError: --model .*nope\.safetensors: no such weight file$/);
  const corrupt = join(root, 'corrupt.rdpv');
  writeFileSync(corrupt, 'RDPV nonsense');
  for (const [argv, message] of [
    [['view', '--port', 'x'], /^rdpv view: --port must be an integer in \[0, 65535\], got 'x'$/],
    [['view', 'a.rdpv', 'b.rdpv'], /^rdpv view: at most one CLIP\.rdpv, got 2: a\.rdpv b\.rdpv$/],
    [['view', join(root, 'missing.rdpv'), '--port', '0'], /^rdpv view: cannot read \.rdpv file '.*missing\.rdpv' \(ENOENT\)$/],
    [['view', corrupt, '--port', '0'], /^rdpv view: .*corrupt\.rdpv: /],
  ] as const) {
    const r = await runCli([...argv]);
    assert.equal(r.code, 2, argv.join(' '));
    assert.equal(r.err.length, 1, `${argv.join(' ')}: ${r.err.join(' | ')}`);
    assert.match(r.err[0]!, message);
  }
});
