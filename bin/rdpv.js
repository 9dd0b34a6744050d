#!/usr/bin/env node
// The package ships TypeScript sources; tsx (a dependency) runs them without a build step.
import { register } from 'tsx/esm/api';

// `rdpv ... | head` closes stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
