// `npm run build` (run by `prepare`, so on `npm ci`, on install from git and on `npm pack`):
// the TypeScript sources to JavaScript with declarations in dist/, then one fix-up for plain Node.
//
// tfjs-core's Node entry ships no gradient functions, so src/engine/core-gradients.ts imports
// them from tfjs-core's ESM sources (@tensorflow/tfjs-core/dist/gradients/*.js). Those modules
// import each other without file extensions, which tsx resolves and plain Node does not
// (ERR_MODULE_NOT_FOUND .../dist/kernel_names). So each emitted file that imports such a deep
// path is bundled with esbuild: the deep modules inlined (they share tfjs's engine and registries
// through its global namespace, exactly as when tsx loads them one by one), every other import
// left as it is.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
// A clean build (no stale module from a deleted source), keeping the viewer page that
// `npm run build:viewer` writes beside it.
for (const entry of existsSync(dist) ? readdirSync(dist) : []) if (entry !== 'viewer-page') rmSync(join(dist, entry), { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (tsc.status !== 0) {
  // A checkout runs its sources (bin/rdpv.js through tsx), not dist/: a type error in work in
  // progress must not stop `npm ci` there (npm test reports it). Packing or publishing stops.
  const strict = !['ci', 'install'].includes(process.env.npm_command ?? '');
  if (strict || !existsSync(join(dist, 'index.js'))) process.exit(tsc.status ?? 1);
  console.warn('build: type errors above; dist/ was emitted anyway (a checkout runs src/ through tsx; npm pack would stop here)');
}

const DEEP = /from\s*['"]@tensorflow\/tfjs-[a-z-]+\/dist\//;
const files = readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js')).map((f) => join(dist, f));
const deep = files.filter((f) => DEEP.test(readFileSync(f, 'utf8')));
if (deep.length > 0) {
  const { build } = await import('esbuild');
  for (const file of deep) {
    await build({
      entryPoints: [file], outfile: file, allowOverwrite: true, bundle: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning',
      plugins: [{
        name: 'inline-deep-tfjs-only',
        setup(b) {
          // Only deep paths into a package's dist/ (and what they import) are inlined.
          b.onResolve({ filter: /.*/ }, (a) => {
            if (a.kind === 'entry-point') return undefined;
            const fromDeep = a.importer.includes(`${join('node_modules', '@tensorflow')}`);
            if (fromDeep || /^@tensorflow\/tfjs-[a-z-]+\/dist\//.test(a.path)) return undefined;
            return { path: a.path, external: true };
          });
        },
      }],
    });
  }
  console.error(`build: bundled tfjs deep imports into ${deep.map((f) => f.slice(root.length)).join(', ')}`);
}
