// A password typed at a terminal: the question is shown, what is typed is not. Used by `oag users` (the branch
// console's accounts) and `oag central users`.
import { createInterface } from 'node:readline';

/** readline with its echo turned off after the question is written. */
export function askHidden(question: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const internal = rl as unknown as { _writeToOutput(text: string): void };
    let asked = false;
    internal._writeToOutput = (text: string) => {
      if (!asked) {
        process.stderr.write(text);
        asked = true;
      }
    };
    rl.question(question, (answer) => {
      process.stderr.write('\n');
      rl.close();
      resolve(answer);
    });
  });
}
