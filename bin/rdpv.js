#!/usr/bin/env node
// The rdpv command. An installed package runs the built JavaScript (dist/, made by `npm run build`
// on pack and on install from git). A checkout runs its TypeScript sources through tsx (a dev
// dependency), so what runs is always what is in src/, built or not.
import { existsSync } from 'node:fs';

const sources = new URL('../src/cli/main.ts', import.meta.url);
let main;
if (existsSync(sources) && (await import('tsx/esm/api').then((tsx) => (tsx.register(), true), () => false))) {
  ({ main } = await import(sources.href));
} else {
  ({ main } = await import('../dist/cli/main.js'));
}
process.exitCode = await main(process.argv.slice(2));
