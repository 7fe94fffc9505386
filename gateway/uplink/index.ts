export { Uplink } from './uplink.js';
export { CommandHandler } from './commands.js';
export * from './types.js';
