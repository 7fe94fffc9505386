// PostgreSQL for a test file's tests (test/helpers/postgres.ts starts it): kept apart from that module, which the
// benches import too, because this one registers vitest hooks.
import { afterAll, beforeAll } from 'vitest';
import { startPostgres, type RunningPostgres } from './postgres.js';

/**
 * One PostgreSQL cluster for a test file: started before its tests, stopped after them. The methods reach the
 * running server (each test makes its own database with `newDatabase()`); called outside the tests, they throw.
 */
export function postgresPerFile(): Pick<RunningPostgres, 'newDatabase' | 'restart' | 'kill9'> & { readonly url: string } {
  let running: RunningPostgres | undefined;
  beforeAll(async () => {
    running = await startPostgres();
  }, 120_000);
  afterAll(async () => {
    await running?.stop();
  }, 60_000);
  const server = (): RunningPostgres => {
    if (running === undefined) throw new Error('postgresPerFile: PostgreSQL runs only inside the tests');
    return running;
  };
  return {
    get url() {
      return server().url;
    },
    newDatabase: () => server().newDatabase(),
    restart: () => server().restart(),
    kill9: () => server().kill9(),
  };
}
