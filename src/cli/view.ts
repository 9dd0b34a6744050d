/**
 * `rdpv view`: a small local web server (node:http) for the browser viewer. It serves the page
 * built ahead of time into dist/viewer-page/ (`npm run build:viewer`, run by `prepare`), the
 * shipped weights (models/, plus a --model file), the clip named on the command line and its
 * source, and two helpers the page cannot do itself: MovingMNIST frames (the digits are a 21 MB
 * npm package) and reading a dropped video into frames (GIF, PNG, .npy, MP4/AVI/WebM through
 * ffmpeg). All decoding and encoding happens in the browser, with the same model code as Node.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readRdpv, type RdpvHeader } from '../codec/container.ts';
import { UserError } from '../errors.ts';
import { decodeTensorFile } from '../models/tensor-file.ts';
import { readFileOrFail, ZOO_DIR } from '../models/weights-io.ts';
import { MANIFEST, type ZooEntry } from '../models/zoo.ts';
import { optionsHelp, parseFlags, type Flag } from './args.ts';
import type { Command } from './command.ts';

/** The built page (two folders up from both src/cli and dist/cli). */
export const PAGE_DIR = fileURLToPath(new URL('../../dist/viewer-page/', import.meta.url));
export const DEFAULT_PORT = 8417;
/** The most frames the MovingMNIST helper makes, and the largest upload it reads. */
const MAX_CLIP_FRAMES = 240;
const MAX_UPLOAD_BYTES = 256 * 1024 * 1024;

const FLAGS = {
  port: { type: 'int', min: 0, max: 65535, default: DEFAULT_PORT, help: 'the port to listen on; 0 picks a free one' },
  host: { type: 'string', default: '127.0.0.1', value: 'ADDR', help: 'the address to listen on (only this machine by default)' },
  source: { type: 'string', value: 'INPUT', help: 'the encoded input of the clip (any encode INPUT): shown as SOURCE, and the distortion is measured against it' },
  model: { type: 'string', value: 'FILE', help: 'a weight file offered beside the shipped models (for a clip made by other weights, or to encode new clips)' },
} as const satisfies Record<string, Flag>;

const USAGE = `usage: rdpv view [CLIP.rdpv] [--port P] [--host ADDR] [--source INPUT] [--model FILE]
Serves the viewer on this machine and prints its address: open it in a browser. The page decodes
an .rdpv file in the browser with every decoder of its model (MMSE, 0-PLF-FMD, 0-PLF-JD) side by
side, frame by frame, with the per-frame distortion; drop another .rdpv file or a video on it, or
make a MovingMNIST clip and encode it with a shipped model. Ctrl-C stops the server.
options:
${optionsHelp(FLAGS)}`;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

export interface ViewOptions {
  clip?: string;
  source?: string;
  model?: string;
  host?: string;
  port?: number;
  /** The built page (default PAGE_DIR). */
  pageDir?: string;
}

export interface ViewServer {
  /** http://host:port/ */
  url: string;
  close(): Promise<void>;
}

/** What the server holds for the page: the clip, its source, the merged manifest and where each weight file is. */
interface Served {
  clip?: { name: string; bytes: Uint8Array; header: RdpvHeader };
  source?: Uint8Array;
  manifest: Uint8Array;
  weights: Map<string, string>;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const f32Bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

async function prepare(options: ViewOptions): Promise<Served> {
  const zoo = JSON.parse(new TextDecoder().decode(readFileOrFail(join(ZOO_DIR, MANIFEST), 'model manifest'))) as { models: ZooEntry[] };
  const entries = [...zoo.models];
  const weights = new Map(entries.map((e) => [e.file, join(ZOO_DIR, e.file)]));
  if (options.model !== undefined) {
    if (!existsSync(options.model) || !statSync(options.model).isFile()) throw new UserError(`--model ${options.model}: no such weight file`);
    const bytes = readFileOrFail(options.model, 'model file');
    const sha = sha256(bytes);
    if (!entries.some((e) => e.sha256 === sha)) {
      // Named as Node names it (`loadModelArg`): its name metadata, else the file name. A file that is not
      // a weights file is one line here, not an error on the page.
      const { metadata } = decodeTensorFile(bytes, options.model);
      const file = `extra-${sha.slice(0, 16)}.safetensors`;
      const id = metadata.name ?? metadata.preset;
      const name = id && id !== 'unnamed' ? id : basename(options.model).replace(/\.safetensors$/, '');
      entries.push({ name, file, sha256: sha, commands: [], preset: '', stages: [], train_seconds: 0, metrics: {} });
      weights.set(file, resolve(options.model));
    }
  }
  const served: Served = { manifest: new TextEncoder().encode(JSON.stringify({ models: entries }, null, 2)), weights };
  if (options.clip !== undefined) {
    const bytes = readFileOrFail(options.clip, '.rdpv file');
    let header: RdpvHeader;
    try {
      header = readRdpv(bytes).header;
    } catch (e) {
      throw new UserError(`${options.clip}: ${(e as Error).message}`);
    }
    if (!entries.some((e) => e.sha256 === header.weightsSha256)) {
      throw new UserError(`${options.clip} was made by model '${header.modelId}' (weights ${header.weightsSha256.slice(0, 12)}...), which is not a shipped model: pass its weight file with --model`);
    }
    served.clip = { name: basename(options.clip), bytes, header };
    if (options.source !== undefined) {
      const { cutGroups, describeChanges, readFrames } = await import('../data/frames-io.ts');
      const input = await readFrames(options.source, header.width);
      const changes = describeChanges(input);
      if (changes) console.error(`rdpv view: warning: --source ${changes}`);
      const cut = cutGroups(input, header.gop);
      if (cut.groups * header.gop !== header.frameCount) {
        throw new UserError(`--source ${options.source} gives ${cut.groups * header.gop} frames in groups of ${header.gop}, the file holds ${header.frameCount}: not the encoded input`);
      }
      served.source = f32Bytes(cut.data);
    }
  } else if (options.source !== undefined) throw new UserError('--source needs a CLIP.rdpv');
  return served;
}

/** The file under `dir` that a URL path names, or undefined for anything outside it (`..`, odd bytes, folders). */
export function fileUnder(dir: string, urlPath: string): string | undefined {
  let path: string;
  try {
    path = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (path.includes('\0') || path.includes('\\') || path.split('/').some((part) => part === '..')) return undefined;
  const root = resolve(dir);
  const file = resolve(root, normalize(`.${path.startsWith('/') ? path : `/${path}`}`));
  if (!file.startsWith(root + sep)) return undefined;
  return statSync(file, { throwIfNoEntry: false })?.isFile() ? file : undefined;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function readBody(req: IncomingMessage): Promise<Uint8Array> {
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_UPLOAD_BYTES) {
        fail(new HttpError(413, `the file is larger than ${MAX_UPLOAD_BYTES / 2 ** 20} MiB`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => ok(new Uint8Array(Buffer.concat(chunks))));
    req.on('error', fail);
  });
}

function intParam(url: URL, name: string, fallback: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new HttpError(400, `${name} must be an integer in [${min}, ${max}], got '${raw}'`);
  return n;
}

/** MovingMNIST test-split sequence 0 of a seed, `frames` long, as float32 bytes. */
async function movingMnist(url: URL): Promise<{ body: Uint8Array; headers: Record<string, string> }> {
  const frames = intParam(url, 'frames', 12, 1, MAX_CLIP_FRAMES);
  const seed = intParam(url, 'seed', 0, 0, 2 ** 32 - 1);
  const mode = url.searchParams.get('mode') ?? 'paper';
  if (mode !== 'paper' && mode !== 'bounce') throw new HttpError(400, `mode must be paper or bounce, got '${mode}'`);
  const { movingMnistBatch } = await import('../data/moving-mnist.ts');
  const batch = movingMnistBatch({ split: 'test', seed, frames, mode }, 0, 1);
  return { body: f32Bytes(batch.data), headers: { 'x-frames': String(frames), 'x-size': String(batch.shape[2]) } };
}

/** A dropped video (or GIF, PNG, .npy) read into size x size gray frames on this side. */
async function uploadedFrames(req: IncomingMessage, url: URL): Promise<{ body: Uint8Array; headers: Record<string, string> }> {
  const size = intParam(url, 'size', 64, 1, 1024);
  const gop = intParam(url, 'gop', 1, 1, 64);
  const name = url.searchParams.get('name') ?? 'input';
  const ext = extname(name).toLowerCase().replace(/[^.a-z0-9]/g, '');
  const bytes = await readBody(req);
  const dir = mkdtempSync(join(tmpdir(), 'rdpv-view-'));
  try {
    const path = join(dir, `input${ext}`);
    writeFileSync(path, bytes);
    const { cutGroups, describeChanges, readFrames } = await import('../data/frames-io.ts');
    let input;
    try {
      input = await readFrames(path, size);
    } catch (e) {
      throw new HttpError(400, `${name}: ${(e as Error).message.replaceAll(path, name)}`);
    }
    // Whole groups of pictures of each clip, as rdpv encode cuts them.
    const cut = cutGroups(input, gop);
    if (cut.groups === 0) throw new HttpError(400, `${name}: ${input.count} frames, fewer than one group of ${gop}`);
    const notes = [describeChanges(input)?.replaceAll(path, name), cut.dropped > 0 ? `dropped the last ${cut.dropped} frames (not a whole group of ${gop})` : undefined].filter((n) => n);
    return { body: f32Bytes(cut.data), headers: { 'x-frames': String(cut.groups * gop), 'x-size': String(size), 'x-note': encodeURIComponent(notes.join('; ')) } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/** Start the server; resolves once it listens. */
export async function startViewer(options: ViewOptions = {}): Promise<ViewServer> {
  const served = await prepare(options);
  const pageDir = options.pageDir ?? PAGE_DIR;
  if (!existsSync(join(pageDir, 'index.html'))) {
    throw new UserError(`the viewer page is not built (${join(pageDir, 'index.html')} is missing): run npm run build:viewer`);
  }
  const host = options.host ?? '127.0.0.1';
  let port = 0;

  const session = () => JSON.stringify({
    clip: served.clip ? { name: served.clip.name, url: 'clip.rdpv' } : null,
    source: served.source ? 'clip-source.f32' : null,
    models: 'models/',
  });

  async function respond(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // A page on another site cannot reach a loopback server through a name it controls (DNS rebinding).
    if (LOOPBACK.has(host)) {
      const hostHeader = (req.headers.host ?? '').toLowerCase();
      const allowed = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`];
      if (!allowed.includes(hostHeader)) throw new HttpError(403, 'unexpected Host header');
    }
    const url = new URL(req.url ?? '/', 'http://viewer');
    const path = url.pathname;
    const send = (body: Uint8Array | string, type: string, headers: Record<string, string> = {}) => {
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      res.writeHead(200, { 'content-type': type, 'content-length': String(bytes.length), 'cache-control': 'no-cache', ...headers });
      res.end(req.method === 'HEAD' ? undefined : bytes);
    };
    if (req.method === 'POST' && path === '/api/frames') {
      const r = await uploadedFrames(req, url);
      return send(r.body, 'application/octet-stream', r.headers);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `${req.method} is not served`);
    if (path === '/api/session') return send(session(), 'application/json');
    if (path === '/api/moving-mnist') {
      const r = await movingMnist(url);
      return send(r.body, 'application/octet-stream', r.headers);
    }
    if (path === '/clip.rdpv' && served.clip) return send(served.clip.bytes, 'application/octet-stream', { 'content-disposition': `attachment; filename="${served.clip.name.replace(/[^\w.-]/g, '_')}"` });
    if (path === '/clip-source.f32' && served.source) return send(served.source, 'application/octet-stream');
    if (path === `/models/${MANIFEST}`) return send(served.manifest, 'application/json');
    if (path.startsWith('/models/')) {
      const file = served.weights.get(path.slice('/models/'.length));
      if (file === undefined) throw new HttpError(404, 'not found');
      return send(readFileSync(file), 'application/octet-stream');
    }
    const file = fileUnder(pageDir, path === '/' ? '/index.html' : path);
    if (file === undefined) throw new HttpError(404, 'not found');
    return send(readFileSync(file), TYPES[extname(file)] ?? 'application/octet-stream');
  }

  const server = createServer((req, res) => {
    respond(req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : e instanceof UserError ? 400 : 500;
      const message = e instanceof Error ? e.message.split('\n')[0]! : String(e);
      if (status === 500) console.error(`rdpv view: ${req.method} ${req.url}: ${message}`);
      if (res.headersSent) return res.destroy();
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' });
      res.end(message);
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') fail(new UserError(`port ${options.port ?? DEFAULT_PORT} on ${host} is in use: pass another --port (0 picks a free one)`));
      else if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') fail(new UserError(`cannot listen on ${host}: no such local address`));
      else if (e.code === 'EACCES') fail(new UserError(`cannot listen on port ${options.port ?? DEFAULT_PORT} (permission denied): pass a --port above 1023`));
      else fail(e);
    });
    server.listen(options.port ?? DEFAULT_PORT, host, () => ok());
  });
  port = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/`,
    close: () => new Promise<void>((ok) => {
      server.close(() => ok());
      server.closeAllConnections();
    }),
  };
}

export default {
  summary: 'serve the browser viewer: an .rdpv file decoded by every decoder side by side, frame by frame',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const { values, positionals } = parseFlags(args, FLAGS, true);
    if (positionals.length > 1) throw new UserError(`at most one CLIP.rdpv, got ${positionals.length}: ${positionals.join(' ')}`);
    const viewer = await startViewer({
      ...(positionals[0] !== undefined ? { clip: positionals[0] } : {}),
      ...(values.source !== undefined ? { source: values.source } : {}),
      ...(values.model !== undefined ? { model: values.model } : {}),
      host: values.host,
      port: values.port,
    });
    console.log(`rdpv view: serving ${viewer.url}${positionals[0] !== undefined ? ` (${positionals[0]})` : ''}; open it in a browser, Ctrl-C stops`);
    await new Promise<void>((ok) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        ok();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await viewer.close();
    console.log('rdpv view: stopped');
    return 0;
  },
} satisfies Command;
