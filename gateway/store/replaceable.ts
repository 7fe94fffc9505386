// The gateway's handle on its store, which it can be given again. A store that cannot be opened read-write at
// start (disk full, read-only, corrupt, missing folder) must not keep the door from running: the gateway opens it
// read-only, or failing that an empty store in memory, and its storage extension reopens the real file when it
// can and puts it in place here. Everything that holds this handle sees the new store from the next call on.
import { openStore } from './index.js';
import type { Store, StoreOptions } from './index.js';

export type StoreMode = 'read-write' | 'read-only' | 'memory';

export interface OpenedStore {
  store: Store;
  mode: StoreMode;
  /** Why it is not read-write (the error from the read-write attempt). */
  fault?: unknown;
}

/** Never throws: the worst case is an empty store in memory, and `fault` says why. */
export function openStoreOrFallback(path: string, options: StoreOptions = {}): OpenedStore {
  try {
    return { store: openStore(path, options), mode: 'read-write' };
  } catch (fault) {
    try {
      return { store: openStore(path, { ...options, readonly: true }), mode: 'read-only', fault };
    } catch {
      return { store: openStore(':memory:', { ...options, readonly: false }), mode: 'memory', fault };
    }
  }
}

export class ReplaceableStore implements Store {
  private current: Store;
  private currentMode: StoreMode;

  constructor(opened: OpenedStore) {
    this.current = opened.store;
    this.currentMode = opened.mode;
  }

  get mode(): StoreMode {
    return this.currentMode;
  }

  /** Puts `next` in place and closes the store it replaces. */
  replace(next: OpenedStore): void {
    const previous = this.current;
    this.current = next.store;
    this.currentMode = next.mode;
    if (previous !== next.store) previous.close();
  }

  get path(): string {
    return this.current.path;
  }
  get durability(): Store['durability'] {
    return this.current.durability;
  }
  get members(): Store['members'] {
    return this.current.members;
  }
  get memberSync(): Store['memberSync'] {
    return this.current.memberSync;
  }
  get events(): Store['events'] {
    return this.current.events;
  }
  get settings(): Store['settings'] {
    return this.current.settings;
  }
  get pins(): Store['pins'] {
    return this.current.pins;
  }
  transaction<T>(fn: () => T): T {
    return this.current.transaction(fn);
  }
  sizeBytes(): number {
    return this.current.sizeBytes();
  }
  setSizeLimit(bytes: number | null): void {
    this.current.setSizeLimit(bytes);
  }
  close(): void {
    this.current.close();
  }
}
