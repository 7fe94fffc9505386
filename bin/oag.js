#!/usr/bin/env node
// The `oag` command. Runs the TypeScript sources through tsx so that a fresh clone needs no build step;
// an installed Pi runs the compiled `dist/` instead (see scripts/install-pi.sh).
import { register } from 'tsx/esm/api';

register();
await import('../scripts/oag.ts');
