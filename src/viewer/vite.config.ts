// The viewer page's build (`npm run build:viewer`): src/viewer/index.html and main.ts bundled by
// Vite into dist/viewer-page/, with the tfjs wasm binaries copied to dist/viewer-page/wasm/.
// `rdpv view` serves that folder; it needs no build step at run time (`prepare` builds it, so
// `npm ci` and `npm pack` do).
//
// One substitution: src/engine/index.ts (Node's engine: it also sets up wasm threads through
// node:worker_threads) resolves to src/viewer/engine.ts for every importer, so the model,
// codec and video code run unchanged on the browser's wasm backend with the same kernel pack.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const nodeEngine = resolve(here, '../engine/index.ts');
const browserEngine = resolve(here, 'engine.ts');
const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];

function rdpvViewer(): Plugin {
  const require = createRequire(import.meta.url);
  const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  return {
    name: 'rdpv-viewer',
    enforce: 'pre',
    async resolveId(source, importer, options) {
      if (importer === undefined || !source.endsWith('/engine/index.ts')) return null;
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true });
      return resolved && resolve(resolved.id) === nodeEngine ? browserEngine : null;
    },
    generateBundle() {
      for (const file of WASM_FILES) this.emitFile({ type: 'asset', fileName: `wasm/${file}`, source: readFileSync(join(wasmDir, 'dist', file)) });
    },
  };
}

export default defineConfig({
  root: here,
  base: './',
  logLevel: 'warn',
  plugins: [rdpvViewer()],
  build: {
    outDir: resolve(here, '../../dist/viewer-page'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 8192,
    reportCompressedSize: false,
  },
});
