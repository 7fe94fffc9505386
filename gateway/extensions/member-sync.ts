// The member-list sync with central as an extension. The uplink hands it member-list messages and its link to
// the broker through this object, which outlives any one run of the sync: after a failure the host starts a new
// sync, and the uplink goes on talking to the same object.
import type { MemberSync, MemberSyncDeps } from '../members/sync.js';
import { MemberSync as MemberSyncImpl } from '../members/sync.js';
import type { UplinkMembers } from '../uplink/types.js';
import { loadCentralKeys } from '../uplink/verify.js';
import type { Extension, ExtensionContext } from './extension.js';

type Send = ((payload: Buffer) => boolean) | null;

export class MemberSyncExtension implements Extension, UplinkMembers {
  readonly name = 'member-sync';
  private sync: MemberSync | undefined;
  private send: Send = null;
  private context: ExtensionContext | undefined;

  constructor(
    private readonly deps: Omit<MemberSyncDeps, 'logger' | 'central'> & {
      /** `mqtt.centralKeys`, read at each start: a missing key is this extension's alarm, not the door's. */
      central: { keyFiles: readonly string[]; announcementTopic: string; transferTopic: string };
    },
  ) {}

  get current(): MemberSync | undefined {
    return this.sync;
  }

  start(context: ExtensionContext): void {
    this.context = context;
    const { keyFiles, ...topics } = this.deps.central;
    const sync = new MemberSyncImpl({ ...this.deps, central: { keys: loadCentralKeys(keyFiles), ...topics }, logger: context.logger });
    sync.start();
    this.sync = sync;
    if (this.send !== null) sync.link(this.send);
  }

  stop(): void {
    this.sync?.stop();
    this.sync = undefined;
    this.context = undefined;
  }

  receive(kind: 'announcement' | 'transfer', payload: Buffer): void {
    this.guard(() => this.sync?.receive(kind, payload));
  }

  link(send: Send): void {
    this.send = send;
    this.guard(() => this.sync?.link(send));
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      // A bug in the sync must not reach the uplink's message handler; the host restarts the sync.
      this.context?.fail(error);
    }
  }
}
