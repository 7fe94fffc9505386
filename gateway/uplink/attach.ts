// Wires the uplink to a running gateway: the SQLite outbox, the state, commands and policies from central.
// The gateway never waits on it: new events only `kick()` the uplink, which drains the outbox on its own time.
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { Gateway } from '../core/controller.js';
import type { Store } from '../store/index.js';
import type { UplinkConfig } from './config.js';
import type { UplinkMembers } from './types.js';
import { Uplink } from './uplink.js';

const LINK_CHECK_MS = 2000;
const STOP_FLUSH_MS = 1000;

export interface AttachedUplink {
  uplink: Uplink;
  stop(): Promise<void>;
}

export function attachUplink(deps: {
  gateway: Gateway;
  store: Store;
  config: UplinkConfig;
  site: string;
  clock: Clock;
  logger: Logger;
  /** The member-list sync, when the gateway takes its list from central. */
  members?: UplinkMembers | undefined;
}): AttachedUplink {
  const { gateway, store } = deps;
  const uplink = new Uplink({
    config: deps.config,
    site: deps.site,
    outbox: {
      unpublished: (limit) =>
        store.events.unpublished(limit).map((event) => ({ id: event.id, at: event.at, type: event.type, payload: { id: event.id, at: event.at, ...event.data } })),
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
        gateway.bus.on('state-changed', listener);
        return () => gateway.bus.off('state-changed', listener);
      },
    },
    commands: {
      execute: async (command, actor) => gateway.execute({ command: command.command, text: command.text }, actor),
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
    members: deps.members,
    clock: deps.clock,
    logger: deps.logger,
  });
  const kick = (): void => uplink.kick();
  gateway.bus.on('event-logged', kick);
  gateway.setUplinkConnected(false);
  // The uplink has no event for its link state; the console's "link to central" tile is fine at a 2 s resolution.
  let connected = false;
  const linkCheck = setInterval(() => {
    if (uplink.connected === connected) return;
    connected = uplink.connected;
    gateway.setUplinkConnected(connected);
  }, LINK_CHECK_MS);
  linkCheck.unref();
  uplink.start();
  return {
    uplink,
    async stop() {
      clearInterval(linkCheck);
      gateway.bus.off('event-logged', kick);
      // Give the last events (the stop itself) a moment to go out while the link is up; the rest waits in the outbox.
      const deadline = Date.now() + STOP_FLUSH_MS;
      uplink.kick();
      while (uplink.connected && store.events.countUnpublished() > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await uplink.stop();
    },
  };
}
