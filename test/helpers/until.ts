// Waiting in tests: poll a condition until it holds, or fail naming what never happened. The deadline only stops a
// broken test from hanging; no test asserts how long anything took (timings live in `npm run bench`).

export async function until(
  check: () => boolean | Promise<boolean>,
  what: string | (() => string) = 'the condition',
  timeoutMs = 10_000,
  everyMs = 25,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
