// The MQTT contract v1 (docs/architecture.md): topics, one zod schema per message, and the parser both sides use.
export * from './common.js';
export * from './availability.js';
export * from './state.js';
export * from './events.js';
export * from './command.js';
export * from './policy.js';
export * from './members.js';
export * from './member-desk.js';
export * from './signing.js';
export * from './topics.js';
export * from './acl.js';
export * from './broker-limits.js';
export * from './parse.js';
export * from './ulid.js';
export * from './messages.js';
