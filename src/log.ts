// The logger factory. Components receive a pino Logger (usually a child carrying
// `canary=<ns>/<name>`); nothing imports a logger singleton.
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export function createLogger(level: LevelWithSilent = 'info', destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level, base: { app: 'weir' }, timestamp: pino.stdTimeFunctions.isoTime },
    destination ?? process.stdout,
  );
}

/** A logger that drops everything, for unit tests. */
export const silentLogger = (): Logger => pino({ level: 'silent' });
