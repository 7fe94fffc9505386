// Starting a module of ours as a worker thread, compiled or from the sources.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/**
 * Compiled (dist/, as on a Pi) the thread starts `moduleUrl` as it is. From the TypeScript sources (tests, `oag`
 * through tsx) the thread must register tsx's loader before importing it; Node 20 does not apply `--import` given
 * to a worker before its entry module. The loader is found from here, not from the working directory.
 */
export function startModuleWorker(moduleUrl: string, data: unknown): Worker {
  if (!moduleUrl.endsWith('.ts')) return new Worker(new URL(moduleUrl), { workerData: data });
  const pkgPath = createRequire(import.meta.url).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  const api = pathToFileURL(join(dirname(pkgPath), pkg.exports['./esm/api']!.import.default)).href;
  const boot = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(moduleUrl)}); })`;
  return new Worker(boot, { eval: true, workerData: data });
}
