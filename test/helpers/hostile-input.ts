// Inputs that people or programs get wrong, or craft: shared by the tests of every surface that reads them.

/** Nine levels of nine aliases each: 9^9 copies of "lol" once expanded (the "billion laughs" of XML), as a policy. */
export function aliasBomb(): string {
  const lines = ['version: 1', 'site: town', 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  let previous = 'a';
  for (const name of ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']) {
    lines.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(',')}]`);
    previous = name;
  }
  lines.push(`schedule: { weekly: { mon: *${previous} } }`);
  return `${lines.join('\n')}\n`;
}

/** Stack trace lines as Node prints them: none may reach a user of `oag`. */
export const STACK_LINE = /^\s+at /m;
