#!/usr/bin/env node
// `migrator` from a checkout or an installed package.
import { launch } from './launch.js';

await launch('migrator', 'migrator-image/src/main');
