/**
 * The viewer page: opens an .rdpv file (from `rdpv view CLIP`, dropped, or chosen), decodes it
 * with every decoder of its model in this browser (session.ts: the same `decompress` as Node,
 * on tfjs's wasm backend with the project's kernel pack) and shows the source (when known) and
 * the decoders side by side, frame by frame, with each frame's distortion. A dropped video, or a
 * MovingMNIST clip made by the server, is first encoded here with the chosen shipped model.
 *
 * `window.__rdpv` is the page's state for tests: when it is `done` the frames each decoder
 * produced are readable as float32 (base64), exactly what was drawn.
 */
import { initEngine, tf } from './engine.ts';
import { fetchStore } from './fetch-store.ts';
import { decodeClip, encodeFrames, ModelShelf, type Column, type ColumnKey, type DecodedClip } from './session.ts';

type State = 'starting' | 'ready' | 'busy' | 'done' | 'error';

export interface ViewerHook {
  state: State;
  /** The error shown on the page, or ''. */
  message: string;
  /** How many open/decode attempts have finished (done or error). */
  finished: number;
  clip: { name: string; frameCount: number; size: number; gop: number; modelId: string; columns: { key: ColumnKey; title: string; decoded: boolean; note?: string }[]; distortionAgainst: 'source' | 'mmse' } | null;
  frame: number;
  backend: string;
  /** A column's frames, file order, as base64 float32 (little-endian). */
  frames(key: ColumnKey): string | null;
  /** The 8-bit gray values drawn on a column's canvas for the current frame. */
  canvasPixels(key: ColumnKey): number[] | null;
  seek(frame: number): void;
}

declare global {
  interface Window {
    __rdpv: ViewerHook;
  }
}

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const els = {
  status: $('status'), message: $('message'), clip: $('clip'), info: $('info'), grid: $('grid'),
  first: $<HTMLButtonElement>('first'), prev: $<HTMLButtonElement>('prev'), play: $<HTMLButtonElement>('play'),
  next: $<HTMLButtonElement>('next'), last: $<HTMLButtonElement>('last'), scrub: $<HTMLInputElement>('scrub'),
  frameLabel: $('frame-label'), fps: $<HTMLSelectElement>('fps'), zoom: $<HTMLSelectElement>('zoom'),
  plot: document.getElementById('plot') as unknown as SVGSVGElement, plotTitle: $('plot-title'), readout: $<HTMLTableElement>('readout'),
  drop: $('drop'), file: $<HTMLInputElement>('file'), model: $<HTMLSelectElement>('model'), frames: $<HTMLInputElement>('frames'),
  seed: $<HTMLInputElement>('seed'), makeClip: $<HTMLButtonElement>('make-clip'), download: $<HTMLAnchorElement>('download'),
};

const COLOURS: Record<string, string> = { mmse: 'var(--mmse)', fmd: 'var(--fmd)', jd: 'var(--jd)' };

let shelf: ModelShelf | undefined;
let current: (DecodedClip & { name: string }) | undefined;
let frame = 0;
let timer: ReturnType<typeof setInterval> | undefined;
let busy = false;
let downloadUrl: string | undefined;

function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

const hook: ViewerHook = {
  state: 'starting',
  message: '',
  finished: 0,
  clip: null,
  frame: 0,
  backend: '',
  frames(key) {
    const f = current?.columns.find((c) => c.key === key)?.frames;
    return f ? base64(new Uint8Array(f.buffer, f.byteOffset, f.byteLength)) : null;
  },
  canvasPixels(key) {
    const canvas = els.grid.querySelector<HTMLCanvasElement>(`canvas[data-key="${key}"]`);
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx) return null;
    const rgba = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    return Array.from({ length: canvas.width * canvas.height }, (_, i) => rgba[4 * i]!);
  },
  seek: (i) => seek(i),
};
window.__rdpv = hook;

function setStatus(text: string): void {
  els.status.textContent = text;
}

function showError(e: unknown): void {
  const text = e instanceof Error ? e.message : String(e);
  els.message.textContent = text.split('\n')[0]!;
  els.message.hidden = false;
  hook.message = els.message.textContent;
  hook.state = 'error';
  setStatus(current ? 'the clip below is the last one that opened' : 'ready: drop a file or make a clip');
}

function clearError(): void {
  els.message.hidden = true;
  els.message.textContent = '';
  hook.message = '';
}

/** Let the page repaint before the next synchronous stretch of work. */
const repaint = () => new Promise<void>((ok) => setTimeout(ok, 20));

/** Runs one open/encode/decode action: one at a time, errors shown on the page, never thrown. */
async function action(what: string, work: () => Promise<void>): Promise<void> {
  if (busy) {
    showError(new Error(`still busy (${els.status.textContent}); try again when it is done`));
    return;
  }
  busy = true;
  clearError();
  hook.state = 'busy';
  setStatus(what);
  setControlsEnabled(false);
  try {
    await repaint();
    await work();
    hook.state = current ? 'done' : 'ready';
  } catch (e) {
    showError(e);
  } finally {
    busy = false;
    hook.finished++;
    setControlsEnabled(true);
  }
}

function setControlsEnabled(on: boolean): void {
  els.makeClip.disabled = !on || shelf === undefined;
  els.file.disabled = !on;
}

async function fetchBytes(url: string, what: string, init?: RequestInit): Promise<{ bytes: Uint8Array; headers: Headers }> {
  let r: Response;
  try {
    r = await fetch(url, init);
  } catch (e) {
    throw new Error(`cannot reach the rdpv view server for ${what} (${(e as Error).message}): is it still running?`);
  }
  if (!r.ok) throw new Error(`${what}: ${(await r.text()).split('\n')[0] || `HTTP ${r.status}`}`);
  return { bytes: new Uint8Array(await r.arrayBuffer()), headers: r.headers };
}

const asFloats = (bytes: Uint8Array) => new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));

async function decodeAndShow(bytes: Uint8Array, name: string, source?: Float32Array): Promise<void> {
  if (!shelf) throw new Error('the models are not loaded');
  const started = performance.now();
  const decoded = await decodeClip(shelf, bytes, name, {
    ...(source ? { source } : {}),
    onStep: async (what) => {
      setStatus(`${name}: ${what}…`);
      await repaint();
    },
  });
  stop();
  current = { ...decoded, name };
  const { header } = decoded;
  hook.clip = {
    name, frameCount: header.frameCount, size: header.width, gop: header.gop, modelId: decoded.model.id,
    columns: decoded.columns.map((c) => ({ key: c.key, title: c.title, decoded: c.frames !== undefined, ...(c.note ? { note: c.note } : {}) })),
    distortionAgainst: decoded.distortion.against,
  };
  render();
  seek(0);
  setStatus(`${name}: ${header.frameCount} frames decoded with ${decoded.columns.filter((c) => c.key !== 'source' && c.frames).length} decoders in ${((performance.now() - started) / 1000).toFixed(1)} s (tfjs ${tf.getBackend()})`);
}

/** Frames [count, size, size] encoded here with the chosen model, then decoded like any file. */
async function encodeAndShow(frames: Float32Array, name: string): Promise<void> {
  if (!shelf) throw new Error('the models are not loaded');
  setStatus(`loading model ${els.model.value}…`);
  await repaint();
  const lm = await shelf.byName(els.model.value || undefined);
  setStatus(`encoding ${name} with ${lm.id}…`);
  await repaint();
  const seed = Math.max(0, Math.floor(Number(els.seed.value) || 0)) >>> 0;
  const { file, frames: kept } = await encodeFrames(lm, frames, seed);
  const fileName = `${name.replace(/\.[^.]*$/, '')}.rdpv`;
  if (downloadUrl) URL.revokeObjectURL(downloadUrl);
  downloadUrl = URL.createObjectURL(new Blob([file as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  els.download.href = downloadUrl;
  els.download.download = fileName;
  els.download.hidden = false;
  await decodeAndShow(file, fileName, kept);
}

async function openFile(file: File): Promise<void> {
  await action(`opening ${file.name}`, async () => {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const looksRdpv = file.name.toLowerCase().endsWith('.rdpv') || (bytes[0] === 0x52 && bytes[1] === 0x44 && bytes[2] === 0x50 && bytes[3] === 0x56);
    if (looksRdpv) {
      els.download.hidden = true;
      await decodeAndShow(bytes, file.name);
      return;
    }
    if (!shelf) throw new Error('the models are not loaded');
    const lm = await shelf.byName(els.model.value || undefined);
    const config = lm.model.config;
    const size = config.size;
    const gop = config.kind === 'gop' ? config.rates.length : 1;
    setStatus(`reading ${file.name} into ${size}x${size} frames…`);
    const params = new URLSearchParams({ name: file.name, size: String(size), gop: String(gop) });
    const { bytes: raw, headers } = await fetchBytes(`api/frames?${params}`, file.name, { method: 'POST', body: bytes as Uint8Array<ArrayBuffer> });
    const note = decodeURIComponent(headers.get('x-note') ?? '');
    await encodeAndShow(asFloats(raw), file.name);
    if (note) setStatus(`${els.status.textContent} · ${file.name}: ${note}`);
  });
}

async function makeClip(): Promise<void> {
  const frames = Math.min(240, Math.max(1, Math.floor(Number(els.frames.value) || 12)));
  const seed = Math.max(0, Math.floor(Number(els.seed.value) || 0));
  await action('making a MovingMNIST clip', async () => {
    const { bytes } = await fetchBytes(`api/moving-mnist?frames=${frames}&seed=${seed}`, 'MovingMNIST');
    await encodeAndShow(asFloats(bytes), `moving-mnist-seed${seed}`);
  });
}

// ---- drawing ----

const zoom = () => Number(els.zoom.value) || 3;

function render(): void {
  if (!current) return;
  const { header, model, columns } = current;
  const T = header.gop;
  const rates = model.rates.map((r) => (r === 'inf' ? 'raw' : `${r} bits`)).join(', ');
  const bitsPerGop = model.rates.reduce((s, r) => s + (r === 'inf' ? 0 : Number(r)), 0);
  els.info.innerHTML = '';
  const line = (html: string) => {
    const div = document.createElement('div');
    div.innerHTML = html;
    els.info.append(div);
  };
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  line(`<b>${esc(current.name)}</b>: ${header.frameCount} frames of ${header.width}x${header.height}, groups of ${T} (${rates}${T > 1 ? ' per group' : ''}), ${current.bytes} bytes (payload ${current.payloadBytes}), dither seed ${header.ditherSeed}`);
  line(`model <b>${esc(model.id)}</b> (${model.kind}, weights ${model.sha256.slice(0, 12)}…)${bitsPerGop > 0 ? `, ${(bitsPerGop / T).toFixed(2)} bits per frame on average` : ''}`);

  els.grid.innerHTML = '';
  const px = header.width * zoom();
  for (const c of columns) {
    const col = document.createElement('div');
    col.className = 'column';
    const h = document.createElement('h3');
    h.textContent = c.title;
    if (c.key !== 'source') h.style.color = COLOURS[c.key]!;
    col.append(h);
    if (c.frames) {
      const canvas = document.createElement('canvas');
      canvas.width = header.width;
      canvas.height = header.height;
      canvas.dataset.key = c.key;
      canvas.style.width = canvas.style.height = `${px}px`;
      col.append(canvas);
    } else {
      const missing = document.createElement('div');
      missing.className = 'missing';
      missing.style.width = missing.style.height = `${px}px`;
      missing.textContent = c.note ?? 'not decoded';
      col.append(missing);
    }
    const value = document.createElement('div');
    value.className = 'value';
    value.dataset.key = c.key;
    col.append(value);
    if (c.note && c.frames) {
      const note = document.createElement('div');
      note.className = 'note';
      note.textContent = c.note;
      col.append(note);
    }
    els.grid.append(col);
  }
  els.scrub.max = String(header.frameCount - 1);
  els.clip.hidden = false;
  drawPlot();
}

function drawFrame(c: Column, canvas: HTMLCanvasElement, t: number): void {
  const ctx = canvas.getContext('2d');
  if (!ctx || !c.frames) return;
  const n = canvas.width * canvas.height;
  const img = ctx.createImageData(canvas.width, canvas.height);
  for (let i = 0; i < n; i++) {
    const v = Math.round(255 * Math.min(1, Math.max(0, c.frames[t * n + i]!)));
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

const fmt = (v: number) => (v === 0 ? '0' : v < 1e-3 ? v.toExponential(2) : v.toFixed(5));
const psnr = (mse: number) => (mse <= 0 ? '∞' : (10 * Math.log10(1 / mse)).toFixed(2));

function seek(t: number): void {
  if (!current) return;
  const { header, columns, distortion } = current;
  frame = Math.min(header.frameCount - 1, Math.max(0, Math.round(t)));
  hook.frame = frame;
  for (const c of columns) {
    const canvas = els.grid.querySelector<HTMLCanvasElement>(`canvas[data-key="${c.key}"]`);
    if (canvas) drawFrame(c, canvas, frame);
    const value = els.grid.querySelector<HTMLElement>(`.value[data-key="${c.key}"]`);
    const s = distortion.series.find((x) => x.key === c.key);
    if (value) value.textContent = s ? `MSE ${fmt(s.mse[frame]!)}${distortion.against === 'mmse' ? ' vs MMSE' : ''}` : '';
  }
  els.scrub.value = String(frame);
  const T = header.gop;
  const pos = frame % T;
  const rate = header.rates[frame]!;
  els.frameLabel.textContent = `frame ${frame + 1} / ${header.frameCount} · ${pos === 0 ? 'I' : 'P'}-frame ${pos + 1} of its group · ${rate === 'inf' ? 'raw' : `${rate} bits`}`;
  drawCursor();
  drawReadout();
}

function stop(): void {
  if (timer !== undefined) clearInterval(timer);
  timer = undefined;
  els.play.textContent = 'play';
}

function togglePlay(): void {
  if (!current) return;
  if (timer !== undefined) return stop();
  els.play.textContent = 'pause';
  const count = current.header.frameCount;
  timer = setInterval(() => seek((frame + 1) % count), 1000 / (Number(els.fps.value) || 10));
}

const SVG = 'http://www.w3.org/2000/svg';
const PAD = { left: 56, right: 12, top: 10, bottom: 26 };

function svg(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function plotGeometry() {
  const width = els.plot.clientWidth || 800;
  const height = els.plot.clientHeight || 220;
  const count = current!.header.frameCount;
  const max = Math.max(1e-9, ...current!.distortion.series.flatMap((s) => s.mse));
  const x = (t: number) => PAD.left + (count === 1 ? 0.5 : t / (count - 1)) * (width - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (1 - v / max) * (height - PAD.top - PAD.bottom);
  return { width, height, count, max, x, y };
}

function drawPlot(): void {
  if (!current) return;
  const { distortion, header } = current;
  els.plotTitle.textContent = distortion.against === 'source'
    ? 'Per-frame distortion: MSE against the source'
    : 'Per-frame difference from the MMSE output (no source known: drop a video or make a clip to measure against it)';
  els.plot.innerHTML = '';
  if (distortion.series.length === 0) return;
  const g = plotGeometry();
  els.plot.setAttribute('viewBox', `0 0 ${g.width} ${g.height}`);
  if (header.gop > 1) for (let t = 0; t < g.count; t += header.gop) els.plot.append(svg('line', { class: 'gop', x1: g.x(t), x2: g.x(t), y1: PAD.top, y2: g.height - PAD.bottom }));
  els.plot.append(svg('line', { class: 'axis', x1: PAD.left, x2: g.width - PAD.right, y1: g.y(0), y2: g.y(0) }));
  els.plot.append(svg('line', { class: 'axis', x1: PAD.left, x2: PAD.left, y1: PAD.top, y2: g.y(0) }));
  for (const v of [0, g.max / 2, g.max]) els.plot.append(svg('text', { x: PAD.left - 6, y: g.y(v) + 4, 'text-anchor': 'end' }, fmt(v)));
  const ticks = Math.min(g.count, 10);
  for (let k = 0; k < ticks; k++) {
    const t = ticks === 1 ? 0 : Math.round((k * (g.count - 1)) / (ticks - 1));
    els.plot.append(svg('text', { x: g.x(t), y: g.height - 8, 'text-anchor': 'middle' }, String(t + 1)));
  }
  for (const s of distortion.series) {
    const d = s.mse.map((v, t) => `${t === 0 ? 'M' : 'L'}${g.x(t).toFixed(1)},${g.y(v).toFixed(1)}`).join(' ');
    els.plot.append(svg('path', { class: 'series', d, stroke: COLOURS[s.key]!, ...(s.key === 'jd' ? { 'stroke-dasharray': '6 4' } : {}) }));
    s.mse.forEach((v, t) => els.plot.append(svg('circle', { cx: g.x(t), cy: g.y(v), r: g.count > 60 ? 1.2 : 2.5, fill: COLOURS[s.key]! })));
  }
  els.plot.append(svg('line', { class: 'cursor', id: 'cursor', x1: 0, x2: 0, y1: PAD.top, y2: g.y(0) }));
  drawCursor();
}

function drawCursor(): void {
  const cursor = els.plot.querySelector('#cursor');
  if (!cursor || !current) return;
  const x = plotGeometry().x(frame);
  cursor.setAttribute('x1', String(x));
  cursor.setAttribute('x2', String(x));
}

function drawReadout(): void {
  if (!current) return;
  const { distortion } = current;
  const vsSource = distortion.against === 'source';
  const head = `<tr><th>decoder</th><th>MSE, frame ${frame + 1}</th>${vsSource ? `<th>PSNR, frame ${frame + 1}</th>` : ''}<th>mean MSE, all frames</th>${vsSource ? '<th>mean PSNR</th>' : ''}</tr>`;
  const rows = distortion.series.map((s) => {
    const mean = s.mse.reduce((a, b) => a + b, 0) / s.mse.length;
    const meanPsnr = s.mse.reduce((a, v) => a + (v > 0 ? 10 * Math.log10(1 / v) : 0), 0) / s.mse.length;
    return `<tr><td><span class="swatch" style="background:${COLOURS[s.key]}"></span>${s.title}${vsSource ? '' : ' vs MMSE'}</td><td>${fmt(s.mse[frame]!)}</td>${vsSource ? `<td>${psnr(s.mse[frame]!)} dB</td>` : ''}<td>${fmt(mean)}</td>${vsSource ? `<td>${meanPsnr.toFixed(2)} dB</td>` : ''}</tr>`;
  });
  els.readout.innerHTML = head + rows.join('');
}

// ---- wiring ----

els.first.onclick = () => seek(0);
els.prev.onclick = () => seek(frame - 1);
els.next.onclick = () => seek(frame + 1);
els.last.onclick = () => seek(Infinity);
els.play.onclick = togglePlay;
els.scrub.oninput = () => seek(Number(els.scrub.value));
els.fps.onchange = () => {
  if (timer !== undefined) {
    stop();
    togglePlay();
  }
};
els.zoom.onchange = () => {
  render();
  seek(frame);
};
els.plot.addEventListener('click', (e) => {
  if (!current) return;
  const g = plotGeometry();
  const box = els.plot.getBoundingClientRect();
  const x = ((e.clientX - box.left) / box.width) * g.width;
  seek(g.count === 1 ? 0 : ((x - PAD.left) / (g.width - PAD.left - PAD.right)) * (g.count - 1));
});
window.addEventListener('resize', () => drawPlot());
document.addEventListener('keydown', (e) => {
  if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) return;
  const keys: Record<string, () => void> = { ArrowLeft: () => seek(frame - 1), ArrowRight: () => seek(frame + 1), Home: () => seek(0), End: () => seek(Infinity), ' ': togglePlay };
  const f = keys[e.key];
  if (f) {
    e.preventDefault();
    f();
  }
});
els.file.onchange = () => {
  const f = els.file.files?.[0];
  els.file.value = '';
  if (f) void openFile(f);
};
for (const type of ['dragenter', 'dragover']) {
  document.addEventListener(type, (e) => {
    e.preventDefault();
    els.drop.classList.add('over');
  });
}
document.addEventListener('dragleave', (e) => {
  if ((e as DragEvent).relatedTarget === null) els.drop.classList.remove('over');
});
document.addEventListener('drop', (e) => {
  e.preventDefault();
  els.drop.classList.remove('over');
  const f = e.dataTransfer?.files[0];
  if (f) void openFile(f);
  else showError(new Error('nothing to open was dropped: drop a file (an .rdpv file or a video)'));
});
els.makeClip.onclick = () => void makeClip();
window.addEventListener('error', (e) => showError(e.error ?? e.message));
window.addEventListener('unhandledrejection', (e) => showError(e.reason));

async function boot(): Promise<void> {
  setControlsEnabled(false);
  await action('starting tfjs (wasm)', async () => {
    const { bytes } = await fetchBytes('api/session', 'the session');
    const session = JSON.parse(new TextDecoder().decode(bytes)) as { clip: { name: string; url: string } | null; source: string | null; models: string };
    await initEngine();
    hook.backend = tf.getBackend();
    shelf = new ModelShelf(fetchStore(new URL(session.models, document.baseURI).href));
    const entries = await shelf.entries();
    els.model.innerHTML = '';
    for (const e of entries) {
      const opt = document.createElement('option');
      opt.value = e.name;
      opt.textContent = `${e.name}${e.default ? ' (default)' : ''}`;
      opt.selected = e.default === true;
      els.model.append(opt);
    }
    if (session.clip) {
      setStatus(`fetching ${session.clip.name}…`);
      const clip = await fetchBytes(session.clip.url, session.clip.name);
      const source = session.source ? asFloats((await fetchBytes(session.source, 'the source frames')).bytes) : undefined;
      await decodeAndShow(clip.bytes, session.clip.name, source);
    } else setStatus(`ready (tfjs ${tf.getBackend()}): drop an .rdpv file or a video, or make a clip`);
  });
}

void boot();
