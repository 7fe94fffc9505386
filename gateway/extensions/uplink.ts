// The MQTT uplink as an extension: the SQLite outbox, the state, commands and policies from central. The door
// never waits on it: new events only `kick()` the uplink, which drains the outbox on its own time. A broker that
// cannot be reached is the uplink's own business (it reconnects); a start that throws (an unreadable password
// file, a missing CA) is the host's: an `uplink-failed` alarm and another try later.
import type { Logger } from 'pino';
import { CONTRACT_MINOR } from '../../policies/contract/common.js';
import type { Clock } from '../core/clock.js';
import type { Gateway } from '../core/controller.js';
import type { Store } from '../store/index.js';
import type { UplinkConfig } from '../uplink/config.js';
import type { UplinkDeps, UplinkMembers } from '../uplink/types.js';
import { Uplink } from '../uplink/uplink.js';
import type { Extension, ExtensionContext } from './extension.js';

const LINK_CHECK_MS = 2000;
const STOP_FLUSH_MS = 1000;

export interface UplinkExtensionDeps {
  gateway: Gateway;
  store: Store;
  config: UplinkConfig;
  site: string;
  clock: Clock;
  /** The member-list sync, when the gateway takes its list from central. */
  members?: UplinkMembers | undefined;
  /** Desk changes (link a card, set a PIN) from the console to central: the deployment key's id. */
  desk?: UplinkDeps['desk'];
}

export class UplinkExtension implements Extension {
  readonly name = 'uplink';
  private uplink: Uplink | undefined;
  private linkCheck: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly deps: UplinkExtensionDeps) {}

  get connected(): boolean {
    return this.uplink?.connected === true;
  }

  start(context: ExtensionContext): void {
    const { gateway, store } = this.deps;
    const uplink = new Uplink({
      config: this.deps.config,
      site: this.deps.site,
      outbox: {
        unpublished: (limit) =>
          store.events
            .unpublished(limit)
            // Stamped with this gateway's contract version on the way out: the outbox keeps what was recorded.
            .map((event) => ({ id: event.id, at: event.at, type: event.type, payload: { v: CONTRACT_MINOR, id: event.id, at: event.at, ...event.data } })),
        markPublished: (ids) => {
          store.events.markPublished(ids);
        },
      },
      state: {
        current: () => {
          // The uplink reports its own link in `uplink`; the rest is the gateway's state as the console sees it.
          const { uplink: _local, ...state } = gateway.state;
          return state;
        },
        onChange: (listener) => {
          gateway.bus.on('state-changed', listener, this.name);
          return () => gateway.bus.off('state-changed', listener);
        },
      },
      commands: {
        execute: async (command, actor) => gateway.execute({ command: command.command, text: command.text, door: command.door }, actor),
      },
      policy: {
        offer: (document, source) => {
          const result = gateway.offerPolicy(document, source);
          if (!result.ok) {
            gateway.alarms.raise('policy-refused', result.errors[0]);
            return result;
          }
          if (result.changed) gateway.alarms.clear('policy-refused', `version ${result.version} applied`);
          return { ok: true, version: result.version };
        },
      },
      members: this.deps.members,
      desk: this.deps.desk,
      clock: this.deps.clock,
      logger: context.logger as Logger,
    });
    // Throws here, before anything is registered, when a file it needs cannot be read.
    uplink.start();
    this.uplink = uplink;
    gateway.access.desk.setChanges(uplink.desk);
    context.on('event-logged', () => uplink.kick());
    gateway.setUplinkConnected(false);
    // The uplink has no event for its link state; the console's "link to central" tile is fine at a 2 s resolution.
    let connected = false;
    this.linkCheck = setInterval(() => {
      if (uplink.connected === connected) return;
      connected = uplink.connected;
      gateway.setUplinkConnected(connected);
    }, LINK_CHECK_MS);
    this.linkCheck.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.linkCheck);
    this.linkCheck = undefined;
    const uplink = this.uplink;
    this.uplink = undefined;
    if (uplink === undefined) return;
    this.deps.gateway.access.desk.setChanges(undefined);
    // Give the last events (the stop itself) a moment to go out while the link is up; the rest waits in the outbox.
    const deadline = Date.now() + STOP_FLUSH_MS;
    uplink.kick();
    while (uplink.connected && this.unpublished() > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await uplink.stop();
    this.deps.gateway.setUplinkConnected(null);
  }

  private unpublished(): number {
    try {
      return this.deps.store.events.countUnpublished();
    } catch {
      return 0;
    }
  }
}
