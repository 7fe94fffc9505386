// The SIP2 online check as an extension: while it runs, the access path may ask the library system about cards
// the member list does not know. A missing password or a bad certificate is a `sip2-failed` alarm, and unknown
// cards are refused as unknown meanwhile; known cards never depended on it. With the policy's sip2SecondOpinion it
// also follows up grants of cards the list knows (sip2/second-opinion.ts), on the same link.
import type { Clock } from '../core/clock.js';
import type { Gateway } from '../core/controller.js';
import type { Sip2Config } from '../sip2/config.js';
import { createOnlineCheck } from '../sip2/online-check.js';
import type { OnlineCheck } from '../sip2/online-check.js';
import { SecondOpinion } from '../sip2/second-opinion.js';
import type { Extension, ExtensionContext } from './extension.js';

export class Sip2Extension implements Extension {
  readonly name = 'sip2';
  private online: OnlineCheck | undefined;
  private secondOpinion: SecondOpinion | undefined;

  constructor(private readonly deps: { gateway: Gateway; config: Sip2Config; clock: Clock; env: NodeJS.ProcessEnv }) {}

  start(context: ExtensionContext): void {
    const online = createOnlineCheck(this.deps.config, {
      clock: this.deps.clock,
      logger: context.logger,
      env: this.deps.env,
      pseudonym: this.deps.gateway.pseudonym,
    });
    online.start();
    this.online = online;
    this.deps.gateway.access.setOnlineCheck(online);
    this.deps.gateway.access.setPatronPasswordCheck(online.lookup);
    const { gateway } = this.deps;
    const secondOpinion = new SecondOpinion({
      lookup: online.lookup,
      blocks: gateway.lmsBlocks,
      alarms: gateway.alarms,
      enabled: () => gateway.policies.current.rules.sip2SecondOpinion === true,
      clock: this.deps.clock,
      logger: context.logger,
      pseudonym: gateway.pseudonym,
      config: this.deps.config.secondOpinion,
    });
    this.secondOpinion = secondOpinion;
    gateway.access.setListedCardFollowUp(secondOpinion);
  }

  async stop(): Promise<void> {
    // First, at once: an LMS answer arriving after this must not open the door.
    this.deps.gateway.access.setOnlineCheck(undefined);
    this.deps.gateway.access.setPatronPasswordCheck(undefined);
    this.deps.gateway.access.setListedCardFollowUp(undefined);
    this.secondOpinion?.stop();
    this.secondOpinion = undefined;
    const online = this.online;
    this.online = undefined;
    await online?.stop();
  }
}
