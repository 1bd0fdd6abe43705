// `kubectl dbm`: kubectl finds the executable kubectl-dbm on PATH and runs it
// with the rest of the command line (bin/kubectl-dbm.js starts this file).
import { run } from './cli.js';
import { processIo } from './io.js';

process.exitCode = await run(process.argv.slice(2), processIo());
