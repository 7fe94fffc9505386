// What the building did by itself at a demo branch, as its gateway logged it: the switched outputs, the intruder
// alarm and the announcements. The end of the day sets it beside what really happened (truth.ts): the alarm was set
// only once the last person had gone.
import type { LoggedEvent } from '../../gateway/core/model.js';
import type { DemoBranch } from './branch.js';

export interface OutputSwitch {
  at: Date;
  output: string;
  on: boolean;
}

export interface PanelChange {
  at: Date;
  action: 'set' | 'unset';
  outcome: string;
  by: string;
}

export interface Announced {
  at: Date;
  phrase: string;
  languages: string[];
  outcome: string;
}

export class BuildingLog {
  readonly outputs: OutputSwitch[] = [];
  readonly panel: PanelChange[] = [];
  readonly announcements: Announced[] = [];

  // For the branch's whole life: the demo reads the log at the end of the day, after the replay has stopped.
  constructor(branch: DemoBranch) {
    branch.running.gateway.bus.on('event-logged', (event) => this.logged(event));
  }

  /** When the alarm panel confirmed it was set at the branch's asking. */
  setTimes(): Date[] {
    return this.panel.filter((change) => change.action === 'set' && change.outcome === 'confirmed').map((change) => change.at);
  }

  /** The last time an output went off. */
  lastOff(output: string): Date | undefined {
    return this.outputs.filter((change) => change.output === output && !change.on).at(-1)?.at;
  }

  private logged(event: LoggedEvent): void {
    const at = new Date(event.at);
    if (event.type === 'output') this.outputs.push({ at, output: String(event.output), on: event.on === true });
    else if (event.type === 'intruder-alarm') {
      this.panel.push({ at, action: event.action === 'set' ? 'set' : 'unset', outcome: String(event.outcome), by: String(event.by) });
    } else if (event.type === 'announcement') {
      this.announcements.push({ at, phrase: String(event.phrase), languages: (event.languages as string[] | undefined) ?? [], outcome: String(event.outcome) });
    }
  }
}
