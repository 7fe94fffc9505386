// Commands from staff (console), central (MQTT) and the local API all come through here, so that each is
// validated, authorised and logged the same way. Results are plain data for the caller to send back.
import { COMMAND_NAMES, COMMANDS_FOR_A_DOOR } from '../../policies/contract/command.js';
import type { CommandName } from '../../policies/contract/command.js';
import type { Gateway } from './controller.js';

/** The commands the gateway runs: the MQTT contract's list, so central, console and gateway name them alike. */
export const GATEWAY_COMMANDS = COMMAND_NAMES;
export type GatewayCommandName = CommandName;

export interface GatewayCommand {
  command: GatewayCommandName;
  text?: string | undefined;
  /** unlock and lock: the door (its id); absent: the main door, which is what staff at a one-door branch mean. */
  door?: string | undefined;
}

export type CommandResult = { ok: true } | { ok: false; error: string };

export const LOCK_WHILE_STAFFED = 'the branch is staffed: the schedule holds the door free, so nothing was locked; use lockdown to lock it';

export function runCommand(gateway: Gateway, { command, text, door: doorId }: GatewayCommand, actor: string): CommandResult {
  const refused = refusedInEmergency(gateway, command);
  if (refused !== undefined) return refused;
  if (doorId !== undefined && !(COMMANDS_FOR_A_DOOR as readonly string[]).includes(command)) {
    return { ok: false, error: `door: only allowed with ${COMMANDS_FOR_A_DOOR.join(' and ')}` };
  }
  const door = gateway.doors.get(doorId);
  if (door === undefined) return { ok: false, error: `door: no door "${doorId}" at this branch (doors: ${gateway.doors.ids().join(', ')})` };
  // At a branch with several doors the log (door.at) and the error say which one staff opened or locked.
  const theDoor = gateway.doors.several ? `door ${door.id}` : 'the door';
  switch (command) {
    case 'unlock':
      if (gateway.mode === 'lockdown') return { ok: false, error: 'lockdown is on: turn it off before unlocking' };
      if (!door.unlockOnce()) return { ok: false, error: `${theDoor} is not locked (${door.state})` };
      gateway.events.record('staff', { action: 'unlock', actor, ...door.at });
      return { ok: true };
    case 'lock':
      // Staffed hours hold the door free by the schedule: "ok" with the door still free would tell staff or central
      // that it is locked. Lockdown is the way to lock it then, and it says what it does.
      if (door.currentRegime === 'free') return { ok: false, error: LOCK_WHILE_STAFFED };
      door.lockNow();
      gateway.events.record('staff', { action: 'lock', actor, ...door.at });
      return { ok: true };
    case 'lockdown-on':
    case 'lockdown-off':
      gateway.setLockdown(command === 'lockdown-on', actor);
      return { ok: true };
    case 'lights-on':
      gateway.lights.set(true);
      gateway.events.record('staff', { action: 'lights-on', actor });
      return { ok: true };
    case 'lights-off':
      // Staff turning the lights off after close is their confirmation that the building is empty.
      gateway.events.record('staff', { action: 'lights-off', actor });
      gateway.closing.confirmEmpty(actor);
      gateway.lights.set(false);
      return { ok: true };
    case 'reset-occupancy':
      gateway.occupancy.reset(actor);
      return { ok: true };
    case 'reset-alarms':
      return gateway.resetAlarms(actor);
    case 'announce':
      gateway.announce(text, actor);
      return { ok: true };
    case 'help-acknowledged':
      // From central the name comes in `text`; at the console it is the signed-in account.
      return gateway.help.acknowledge(text ?? actor, actor);
    case 'resync':
      gateway.events.record('staff', { action: 'resync', actor });
      return { ok: true };
    default: {
      const unknown: never = command;
      return { ok: false, error: `unknown command "${String(unknown)}"` };
    }
  }
}

/**
 * During a fire the door is released and the lights are held on. A command that would change either is refused
 * with the reason, rather than answered "ok" with nothing done: the door does not move for it (the fire release
 * is hard-wired and the software never fights it), and the person asking must know that.
 */
function refusedInEmergency(gateway: Gateway, command: GatewayCommandName): CommandResult | undefined {
  if (gateway.mode !== 'emergency') return undefined;
  const until = 'until staff reset alarms once the fire alarm input has cleared';
  switch (command) {
    case 'unlock':
    case 'lock':
    case 'lockdown-on':
      return { ok: false, error: `the door is released for the fire alarm: ${command} is refused ${until}` };
    case 'lights-off':
      return { ok: false, error: `the lights stay on during the fire alarm: lights-off is refused ${until}` };
    default:
      return undefined;
  }
}
