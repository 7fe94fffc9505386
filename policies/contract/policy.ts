// `…/policy`, to one site, retained: the branch's policy document, exactly the schema staff write by hand.
// Defined once in policies/schema.ts; the contract only names it, with central's signature beside it (1.5): a
// gateway checks `sig` and hands the document without it to the policy in force.
import { PolicySchema } from '../schema.js';
import { SignatureSchema } from './signing.js';

export const PolicyMessageSchema = PolicySchema.extend({ sig: SignatureSchema.optional() });
export type { Policy as PolicyMessage, PolicyInput as PolicyMessageInput } from '../schema.js';
