// Switched outputs (public PCs through a contactor, the heating, a kiosk), as an extension: each follows the
// policy's `outputs` windows (policies/outputs.ts), set at start and at each change. Nothing here is on the door's
// path; a failure is this extension's alarm and the door goes on. While the clock is not believed the outputs are
// held where they are: a clock that jumped must not cut the PCs off under someone mid-session.
import type { DigitalOutput } from '../../firmware-bridge/types.js';
import { outputChanges, outputsAt } from '../../policies/outputs.js';
import type { Policy } from '../../policies/index.js';
import type { Clock, Timer } from '../core/clock.js';
import type { EventLog } from '../core/event-log.js';
import { MAX_SLEEP_MS } from '../core/schedule.js';
import type { OutputState } from '../core/state.js';
import type { Extension, ExtensionContext } from './extension.js';


export interface SwitchedOutputInfo {
  id: string;
  label?: string | undefined;
  /** The output's level when the software is not in control (`hardware.switched[].safe`). */
  safe: 'active' | 'inactive';
}

export interface BuildingOutputsDeps {
  /** The switched outputs by id (`Hardware.switched`), already at their safe level. */
  outputs: ReadonlyMap<string, DigitalOutput>;
  /** Their labels and safe levels, from the config, in its order. */
  config: readonly SwitchedOutputInfo[];
  policy: () => Policy;
  clock: Clock;
  clockTrusted: () => boolean;
  events: Pick<EventLog, 'record'>;
  setOutputs(outputs: OutputState[] | undefined, quiet?: boolean): void;
}

/** Why an output changed, as the `output` event says: `start` at start and after a new policy, else `schedule`. */
type ChangeCause = 'start' | 'schedule';

export class BuildingOutputsExtension implements Extension {
  readonly name = 'building-outputs';
  private timer: Timer | undefined;
  private context: ExtensionContext | undefined;
  /** Whether the clock was believed at the last look: held while not, caught up when it is again. */
  private trusted = true;
  private holdTold = false;

  constructor(private readonly deps: BuildingOutputsDeps) {}

  start(context: ExtensionContext): void {
    this.context = context;
    this.trusted = this.deps.clockTrusted();
    this.holdTold = false;
    context.on('policy-applied', () => this.evaluate('start'));
    // The controller tells a change of clock trust only as a new state: look whether it is one.
    context.on('state-changed', () => {
      if (this.deps.clockTrusted() !== this.trusted) this.evaluate('schedule');
    });
    this.evaluate('start');
  }

  stop(): void {
    this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.context = undefined;
    // The outputs stay where they are: the hardware layer makes them safe when the gateway itself stops.
    this.deps.setOutputs(undefined, true);
  }

  private evaluate(cause: ChangeCause): void {
    const context = this.context;
    if (context === undefined) return;
    this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.trusted = this.deps.clockTrusted();
    const now = this.deps.clock.now();
    if (!this.trusted) {
      if (!this.holdTold) {
        this.holdTold = true;
        context.logger.warn('the clock is not trusted: the switched outputs are held where they are until it is');
      }
      this.publish();
      return;
    }
    if (this.holdTold) {
      this.holdTold = false;
      context.logger.info('the clock is trusted again: the switched outputs follow the schedule');
    }
    const policy = this.deps.policy();
    const wanted = outputsAt(policy, now);
    let changed = false;
    for (const info of this.deps.config) {
      const output = this.deps.outputs.get(info.id);
      if (output === undefined) continue;
      // An output the policy does not schedule stays at its safe level.
      const on = wanted[info.id] ?? info.safe === 'active';
      if (output.active === on) continue;
      output.set(on);
      changed = true;
      this.deps.events.record('output', { output: info.id, on, by: cause });
      context.logger.info({ output: info.id, on, by: cause }, `${info.label ?? info.id} switched ${on ? 'on' : 'off'}`);
    }
    if (changed || cause === 'start') this.publish();
    this.sleep(policy, now);
  }

  /** Until the next change of any output, at most a minute. */
  private sleep(policy: Policy, now: Date): void {
    const next = outputChanges(policy, now, new Date(now.getTime() + MAX_SLEEP_MS))[0];
    const ms = next === undefined ? MAX_SLEEP_MS : Math.max(0, next.at.getTime() - now.getTime());
    this.timer = this.deps.clock.setTimeout(() => this.evaluate('schedule'), ms);
  }

  private publish(): void {
    this.deps.setOutputs(
      this.deps.config.flatMap((info) => {
        const output = this.deps.outputs.get(info.id);
        if (output === undefined) return [];
        return [{ id: info.id, on: output.active, ...(info.label === undefined ? {} : { label: info.label }) }];
      }),
    );
  }
}
