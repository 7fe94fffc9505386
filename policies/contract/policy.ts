// `…/policy`, to one site, retained: the branch's policy document, exactly the schema staff write by hand.
// Defined once in policies/schema.ts; the contract only names it.
export { PolicySchema as PolicyMessageSchema } from '../schema.js';
export type { Policy as PolicyMessage, PolicyInput as PolicyMessageInput } from '../schema.js';
