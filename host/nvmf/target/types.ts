// The interfaces the command handlers see: what a connection offers them and
// what the target does for them (defined with the association, which holds
// a connection per queue: association.ts). Handlers import these, never the
// classes, so the modules form no cycle.
export type { TargetSettings, TargetServices, QueueConnection } from './association.js';
