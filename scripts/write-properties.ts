// Regenerates the shipped Californium3.properties (repo root or the given directory) from the key registry.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROPERTIES_FILE, renderProperties } from '../src/config/index.js';

const dir = process.argv[2] ?? process.cwd();
writeFileSync(join(dir, PROPERTIES_FILE), renderProperties());
console.log(`wrote ${join(dir, PROPERTIES_FILE)}`);
