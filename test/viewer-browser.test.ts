// Same bits, same pictures: `rdpv view` serves a file made here, Debian's Chromium (headless,
// driven by playwright-core) decodes it with every decoder, and each decoder's frames must equal
// what Node's `decompress` gives for the same file. Skips with a message without /usr/bin/chromium
// (apt-get install -y chromium).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { movingMnistBatch } from '../src/data/moving-mnist.ts';
import { initEngine } from '../src/engine/index.ts';
import { DECODER_NAMES, type DecoderName } from '../src/models/decoders.ts';
import { initPosition, type GopModel, type GopModelConfig } from '../src/models/gop.ts';
import { initIFrameModel, type IFrameModelConfig } from '../src/models/iframe.ts';
import { encodeModelFile, readModelFile, type LoadedModel } from '../src/models/model-file.ts';
import { folderStore } from '../src/models/weights-io.ts';
import { loadZooModel } from '../src/models/zoo.ts';
import { compress, decompress } from '../src/video/codec.ts';
import { maxAbsDiff } from './support/close.ts';
import { npy } from './support/npy.ts';

const CHROMIUM = process.env.RDPV_CHROMIUM ?? '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set RDPV_CHROMIUM)`;
/** Decoded frames in the browser and in Node: float32 from the same wasm kernels; allow float noise only. */
const TOLERANCE = 1e-5;
const PAGE = join('dist', 'viewer-page', 'index.html');

/** Build the page when it is missing or older than any source it is built from. */
function ensurePage(): void {
  const newest = (dir: string): number => Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)));
  if (existsSync(PAGE) && statSync(PAGE).mtimeMs >= newest('src')) return;
  const r = spawnSync(process.execPath, [join('node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', join('src', 'viewer', 'vite.config.ts')], { encoding: 'utf8' });
  assert.equal(r.status, 0, `npm run build:viewer failed: ${r.stderr}${r.stdout}`);
}

/** An untrained GOP-3 model: a 12-bit I-frame, two 2-bit P-frames, all three decoders. */
function gopModelBytes(): Uint8Array {
  const iframe: IFrameModelConfig = { kind: 'iframe', size: 64, widths: [4, 4, 8, 8], rate: '12' };
  const config: GopModelConfig = { kind: 'gop', size: 64, rates: ['12', '2', '2'], iframe, pframeWidths: [4, 4, 8, 8] };
  const m: GopModel = { config, iframe: initIFrameModel(iframe, 11, ['mmse', 'fmd']), pframes: [2, 3].map((f) => initPosition(config, f, 3, DECODER_NAMES)) };
  return encodeModelFile(m, 'untrained-gop-12-2-2');
}

/** `rdpv view ARGS` as a child process; resolves with its address once it prints it. */
function startView(args: string[]): Promise<{ child: ChildProcess; url: string; out: () => string }> {
  const child = spawn(process.execPath, [join('bin', 'rdpv.js'), 'view', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c));
  child.stderr!.on('data', (c: Buffer) => (err += c));
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`rdpv view printed no address in 60 s: ${out} ${err}`)), 60_000);
    child.stdout!.on('data', () => {
      const m = /serving (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok({ child, url: m[1]!, out: () => out + err });
      }
    });
    child.on('exit', (code) => fail(new Error(`rdpv view exited ${code}: ${out} ${err}`)));
  });
}

/** GET a raw path (no URL normalisation, so `..` reaches the server as written). */
function rawGet(url: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((ok, fail) => {
    const req = request({ host: u.hostname, port: u.port, path, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => ok({ status: res.statusCode!, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

const floats = (b64: string) => {
  const bytes = Buffer.from(b64, 'base64');
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
};
const pixelsOf = (frames: Float32Array, t: number, per: number) => Array.from(frames.subarray(t * per, (t + 1) * per), (v) => Math.round(255 * Math.min(1, Math.max(0, v))));

test('the browser viewer decodes a file with every decoder to the frames Node decodes, and shows bad files as a message', { skip, timeout: 600_000 }, async () => {
  ensurePage();
  await initEngine();
  const root = mkdtempSync(join(tmpdir(), 'rdpv-viewer-'));
  const at = (name: string) => join(root, name);

  // A GOP-3 clip (untrained weights passed with --model) with its source, and a clip of the shipped I-frame model.
  const source = movingMnistBatch({ split: 'test', seed: 4, frames: 6 }, 0, 1).data;
  const gopFile = at('untrained-gop.safetensors');
  writeFileSync(gopFile, gopModelBytes());
  const gop: LoadedModel = await readModelFile(readFileSync(gopFile), gopFile);
  const gopClip = await compress(gop, source, 5);
  writeFileSync(at('gop.rdpv'), gopClip);
  npy(at('gop-source.npy'), [6, 64, 64], source);
  const shipped = await loadZooModel(folderStore());
  const iframe = await loadZooModel(folderStore(), 'iframe-cpu-12');
  const iframeClip = await compress(iframe, source, 7);
  const expected = async (lm: LoadedModel, file: Uint8Array) => Object.fromEntries(await Promise.all(DECODER_NAMES.map(async (d) => [d, (await decompress(lm, file, d)).frames]))) as Record<DecoderName, Float32Array>;
  const gopWant = await expected(gop, gopClip);
  const iframeWant = await expected(iframe, iframeClip);

  const view = await startView(['--port', '0', at('gop.rdpv'), '--model', gopFile, '--source', at('gop-source.npy')]);
  const { chromium } = await import('playwright-core');
  const profile = at('chromium-profile');
  mkdirSync(profile);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1100, height: 1000 },
  });
  const pageErrors: string[] = [];
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // Expressions as strings: functions compiled by tsx may carry helpers the page does not have.
    const js = <T>(expr: string) => page.evaluate(expr) as Promise<T>;
    const settled = async (finishedBefore: number) => {
      await page.waitForFunction(`window.__rdpv !== undefined && window.__rdpv.finished > ${finishedBefore} && window.__rdpv.state !== 'busy'`, undefined, { timeout: 300_000 });
      return js<{ state: string; message: string; clip: Window['__rdpv']['clip']; backend: string }>('({ state: __rdpv.state, message: __rdpv.message, clip: __rdpv.clip, backend: __rdpv.backend })');
    };
    const drop = async (name: string, bytes: Uint8Array) => {
      const before = await js<number>('__rdpv.finished');
      await page.evaluate(([n, b64]) => {
        const data = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([data], n));
        document.getElementById('drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      }, [name, Buffer.from(bytes).toString('base64')] as const);
      return settled(before);
    };
    const checkDecoders = async (want: Record<DecoderName, Float32Array>, what: string) => {
      for (const d of DECODER_NAMES) {
        const b64 = await js<string | null>(`__rdpv.frames('${d}')`);
        assert.ok(b64, `${what}: the page shows no ${d} frames`);
        const got = floats(b64);
        assert.equal(got.length, want[d].length, `${what} ${d}: frame count`);
        const diff = maxAbsDiff(got, want[d]);
        console.log(`# ${what} ${d}: max |browser - node| = ${diff}`);
        assert.ok(diff <= TOLERANCE, `${what} ${d}: max |browser - node| = ${diff} > ${TOLERANCE}`);
      }
    };

    await page.goto(view.url);
    const first = await settled(0);
    assert.equal(first.state, 'done', `the clip from the command line: ${first.message}`);
    assert.equal(first.backend, 'wasm');
    assert.equal(first.clip!.gop, 3);
    assert.equal(first.clip!.modelId, 'untrained-gop-12-2-2', 'the --model file, named as Node names it');
    assert.equal(first.clip!.frameCount, 6);
    assert.deepEqual(first.clip!.columns.map((c) => [c.key, c.decoded]), [['source', true], ['mmse', true], ['fmd', true], ['jd', true]]);
    assert.equal(first.clip!.distortionAgainst, 'source');
    await checkDecoders(gopWant, 'GOP-3 clip');
    assert.equal(maxAbsDiff(floats((await js<string>("__rdpv.frames('source')"))), source), 0, 'the source column is the encoded input');
    // What is drawn is the decoded frame, as 8-bit gray.
    for (const t of [0, 4]) {
      await js(`__rdpv.seek(${t})`);
      for (const d of ['source', ...DECODER_NAMES] as const) {
        const drawn = await js<number[]>(`__rdpv.canvasPixels('${d}')`);
        const want = d === 'source' ? source : gopWant[d];
        assert.deepEqual(drawn, pixelsOf(want, t, 64 * 64), `canvas ${d}, frame ${t + 1}`);
      }
    }
    assert.match((await page.textContent('#frame-label'))!, /^frame 5 \/ 6 · P-frame 2 of its group · 2 bits$/);
    writeFileSync(at('viewer-gop.png'), await page.screenshot({ fullPage: true }));

    // An .rdpv file of the shipped I-frame model, dropped on the page: its jd is its fmd.
    const dropped = await drop('iframe.rdpv', iframeClip);
    assert.equal(dropped.state, 'done', dropped.message);
    assert.equal(dropped.clip!.modelId, 'iframe-cpu-12');
    assert.equal(dropped.clip!.distortionAgainst, 'mmse', 'no source for a dropped file');
    await checkDecoders(iframeWant, 'I-frame clip');

    // A truncated file: a message on the page, the last clip kept, no uncaught error.
    const bad = await drop('truncated.rdpv', iframeClip.subarray(0, iframeClip.length - 7));
    assert.equal(bad.state, 'error');
    assert.match(bad.message, /^truncated\.rdpv is not a readable \.rdpv file: /);
    assert.ok(await page.isVisible('#message'));
    assert.equal(await page.textContent('#message'), bad.message);
    assert.equal(bad.clip!.name, 'iframe.rdpv', 'the last good clip stays on the page');
    const notRdpv = await drop('notes.rdpv', new TextEncoder().encode('hello'));
    assert.equal(notRdpv.state, 'error');
    assert.match(notRdpv.message, /^notes\.rdpv is not a readable \.rdpv file: /);

    // A video (here a .npy array) dropped on the page: read into frames by the server, encoded
    // and decoded in the browser, shown against its source.
    const video = await drop('clip.npy', readFileSync(at('gop-source.npy')));
    assert.equal(video.state, 'done', video.message);
    assert.equal(video.clip!.name, 'clip.rdpv');
    assert.equal(video.clip!.distortionAgainst, 'source');
    assert.equal(maxAbsDiff(floats((await js<string>("__rdpv.frames('source')"))), source), 0);
    await checkDecoders(await expected(shipped, await compress(shipped, source, 1)), 'dropped video (the page\'s seed 1)');

    // A MovingMNIST clip made by the server, encoded in the browser with the shipped model: the
    // file is the one Node's compress writes for the same frames and seed.
    await page.fill('#frames', '8');
    await page.fill('#seed', '3');
    const before = await js<number>('__rdpv.finished');
    await page.click('#make-clip');
    const made = await settled(before);
    assert.equal(made.state, 'done', made.message);
    assert.equal(made.clip!.distortionAgainst, 'source');
    const madeBytes = Buffer.from(await page.evaluate(async () => {
      const r = await fetch((document.getElementById('download') as HTMLAnchorElement).href);
      const b = new Uint8Array(await r.arrayBuffer());
      let s = '';
      for (const x of b) s += String.fromCharCode(x);
      return btoa(s);
    }), 'base64');
    const mmnist = movingMnistBatch({ split: 'test', seed: 3, frames: 8 }, 0, 1).data;
    assert.deepEqual(new Uint8Array(madeBytes), await compress(shipped, mmnist, 3), 'the browser encoder writes the bytes Node writes');
    await checkDecoders(await expected(shipped, new Uint8Array(madeBytes)), 'browser-encoded clip');
    await js('__rdpv.seek(2)');
    const shot = await page.screenshot({ fullPage: true });
    writeFileSync(at('viewer.png'), shot);
    if (process.env.RDPV_UPDATE_SCREENSHOT) writeFileSync(join('docs', 'viewer.png'), shot);

    assert.deepEqual(pageErrors, [], 'no uncaught error on the page');
  } finally {
    await context.close();
    // The server serves only its own files, answers only to its own host name, and stops on Ctrl-C.
    try {
      for (const path of ['/../package.json', '/%2e%2e/package.json', '/..%2fpackage.json', '/assets/../../package.json', '/models/../package.json', '/models/..%2f..%2fpackage.json', '/%2e%2e%2f%2e%2e%2fpackage.json']) {
        assert.equal((await rawGet(view.url, path)).status, 404, path);
      }
      assert.equal((await rawGet(view.url, '/')).status, 200);
      assert.equal((await rawGet(view.url, '/', { host: 'attacker.example:80' })).status, 403, 'a foreign Host header');
    } finally {
      const exited = new Promise<number | null>((ok) => view.child.once('exit', (code) => ok(code)));
      view.child.kill('SIGINT');
      assert.equal(await exited, 0, view.out());
      assert.match(view.out(), /rdpv view: stopped/);
    }
  }
});
