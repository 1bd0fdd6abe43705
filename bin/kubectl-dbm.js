#!/usr/bin/env node
// `kubectl-dbm` (the `kubectl dbm` plugin) from a checkout or an installed package.
import { launch } from './launch.js';

await launch('kubectl-dbm', 'plugin/main');
