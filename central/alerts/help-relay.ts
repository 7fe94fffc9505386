// A help call acknowledged at central (on the dashboard, or from an e-mailed link) is told to the branch with the
// `help-acknowledged` command, so that the person inside sees "someone is coming" (the green pattern at the door).
// A branch that was offline then still shows the call unanswered in its retained state: it is told again when
// that state arrives, at most once a minute per branch, for as long as central's incident is acknowledged and open.
import type { Logger } from 'pino';
import type { Incident, IncidentChange } from './incidents.js';

export const HELP_ALARM = 'help-requested';
const RESEND_EVERY_MS = 60_000;
/** The contract's bound on the name shown at the branch (DisplayNameSchema). */
const MAX_NAME_CHARS = 64;

export interface HelpRelayDeps {
  incidents: {
    on(event: 'change', listener: (change: IncidentChange) => void): unknown;
    off(event: 'change', listener: (change: IncidentChange) => void): unknown;
    list(filter: { state: 'open'; site: string; alarm: string; limit: number }): Promise<Incident[]>;
  };
  bus: { on(event: 'site', listener: (site: string) => void): unknown; off(event: 'site', listener: (site: string) => void): unknown };
  /** The branch's retained state's help call, if it has one. */
  help(site: string): Promise<{ requested: boolean; acknowledgedBy: string | null } | undefined>;
  /** Sends `help-acknowledged` showing `name`, as `actor`; resolves with whether the branch took it (never throws). */
  send(site: string, command: { actor: string; name: string }): Promise<{ ok: boolean; error?: string | undefined }>;
  clock: { now(): Date };
  logger: Logger;
}

/** `user:alice` → `alice`, `contact:Sam Reed` → `Sam Reed`: the name the person inside is shown. */
export function displayName(actor: string): string {
  const name = actor.replace(/^(user|token|contact):/, '').replace(/[\r\n\t]+/g, ' ').trim();
  return (name === '' ? 'central' : name).slice(0, MAX_NAME_CHARS);
}

export function relayHelpAcknowledgements(deps: HelpRelayDeps): () => void {
  const log = deps.logger.child({ module: 'help-relay' });
  const lastSent = new Map<string, number>();

  const tell = (incident: Incident): void => {
    if (incident.acknowledged === null) return;
    lastSent.set(incident.site, deps.clock.now().getTime());
    const actor = incident.acknowledged.by;
    void deps.send(incident.site, { actor, name: displayName(actor) }).then((outcome) => {
      if (outcome.ok) log.info({ site: incident.site, incident: incident.id }, 'help call acknowledgement told to the branch');
      else log.warn({ site: incident.site, incident: incident.id, error: outcome.error }, 'the branch did not take the help call acknowledgement; told again when its state shows the call unanswered');
    });
  };

  const onChange = (change: IncidentChange): void => {
    // Acknowledged through another instance: that one tells the branch.
    if (change.relayed === true) return;
    if (change.kind === 'acknowledged' && change.incident.alarm === HELP_ALARM) tell(change.incident);
  };

  const onSite = (site: string): void => {
    deps.help(site).then(
      (help) => retell(site, help),
      (error: unknown) => log.error({ site, err: (error as Error).message }, 'help relay: could not read the branch state'),
    );
  };
  const retell = async (site: string, help: Awaited<ReturnType<HelpRelayDeps['help']>>): Promise<void> => {
    try {
      if (help === undefined || !help.requested || help.acknowledgedBy !== null) return;
      if (deps.clock.now().getTime() - (lastSent.get(site) ?? -Infinity) < RESEND_EVERY_MS) return;
      const open = (await deps.incidents.list({ state: 'open', site, alarm: HELP_ALARM, limit: 1 }))[0];
      if (open !== undefined) tell(open);
    } catch (error) {
      log.error({ site, err: (error as Error).message }, 'help relay: could not look up the open help call');
    }
  };

  deps.incidents.on('change', onChange);
  deps.bus.on('site', onSite);
  return () => {
    deps.incidents.off('change', onChange);
    deps.bus.off('site', onSite);
  };
}
