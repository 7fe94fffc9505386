import { defineConfig } from 'vitest/config';

// Two suites: `unit` runs everywhere with no system packages (npm test);
// `system` needs mosquitto, pcscd + vpcd, chromium and systemd-analyze (npm run test:system,
// installed by scripts/install-test-deps.sh).
export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'system',
          include: ['test/system/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // System tests start real daemons on fixed loopback ports (vpcd's 35963); run them one file at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
