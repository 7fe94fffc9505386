// oidc-provider ships no types. Declared here with only what test/helpers/oidc-provider.ts uses, as
// firmware-bridge/optional-modules.d.ts does for nfc-pcsc.

declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface AccountClaims {
    sub: string;
    [claim: string]: unknown;
  }

  export interface Account {
    accountId: string;
    claims(use: string, scope: string): Promise<AccountClaims> | AccountClaims;
  }

  export interface IdTokenInstance {
    client: { clientId: string };
    set(key: string, value: unknown): void;
  }

  export interface IdTokenClass {
    prototype: IdTokenInstance & { issue(options?: { use?: string }): Promise<string> };
  }

  export class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    readonly issuer: string;
    readonly IdToken: IdTokenClass;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }

  export default Provider;
}
