#!/usr/bin/env node
/**
 * The `janus-nats` command (package.json "bin"). Not imported by the library: its argument
 * parser is needed only here.
 */
import { run } from './program.js';

// A reader that went away (`janus-nats sub | head -1`): stop quietly, as other tools do.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

process.exitCode = await run(process.argv.slice(2));
