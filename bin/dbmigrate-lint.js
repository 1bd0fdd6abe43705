#!/usr/bin/env node
// `dbmigrate-lint [options] [FILE...]` is `migrator lint [options] [FILE...]`.
process.argv.splice(2, 0, 'lint');
await import('./migrator.js');
