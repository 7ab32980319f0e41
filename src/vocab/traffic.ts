// How requests are split between the primary and the canary: what the engine asks a router for and
// what a router reads back from its stored objects.

/** Weights in percent; `match`: an A/B route sends matching requests to the canary; `mirror`: copies. */
export type Traffic = { primary: number; canary: number; match?: boolean; mirror?: boolean };
