import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

/** A JSON logger on stdout; level `silent` for tests. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'lookbook' } });
}
