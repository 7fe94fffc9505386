// Central's page script (central/public/common.js) in a unit test, without a browser: it builds its elements with
// `document.createElement`, so a fake document stands in while the file's tests run.
import { afterAll, beforeAll } from 'vitest';

/** Just enough of the DOM for `el()` and `renderTile()`. */
export class FakeElement {
  className = '';
  textContent = '';
  readonly attributes = new Map<string, string>();
  readonly children: Array<FakeElement | string> = [];
  readonly style: Record<string, string> = {};
  constructor(readonly tagName: string) {}
  setAttribute(name: string, value: string): void {
    this.attributes.set(name, value);
  }
  append(...nodes: Array<FakeElement | string>): void {
    this.children.push(...nodes);
  }
  /** Every piece of text in the element, one per element, in document order. */
  texts(): string[] {
    return [this.textContent, ...this.children.flatMap((c) => (typeof c === 'string' ? [c] : c.texts()))].filter((t) => t !== '');
  }
}

/**
 * common.js for the calling file's tests, typed as the test declares it. Its members can be read from the first test
 * on (they are loaded before it); the fake document is removed after the last.
 */
export function centralCommonJsPerFile<Common extends object>(): Common {
  let loaded: Common | undefined;
  const globals = globalThis as { document?: unknown };
  beforeAll(async () => {
    globals.document = { createElement: (tag: string) => new FakeElement(tag) };
    // A plain string, so TypeScript does not look for the browser script's types.
    const path: string = '../../central/public/common.js';
    loaded = (await import(path)) as Common;
  });
  afterAll(() => {
    delete globals.document;
  });
  return new Proxy({} as Common, {
    get(_, name) {
      if (loaded === undefined) throw new Error('central/public/common.js is loaded in beforeAll: read it inside a test');
      return loaded[name as keyof Common];
    },
  });
}
