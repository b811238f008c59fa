/**
 * pino logging to stderr (stdout belongs to the terminal adapter). Two layers keep secrets out:
 * `redact` blanks the usual fields, and every serialized line has each known secret value
 * replaced, so a token that ends up inside an error message or URL is never written either.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** Values that must never appear in a log line (API keys, bot tokens, signing secrets). */
  secrets?: string[];
  /** Where lines go; stderr by default. */
  destination?: { write(line: string): unknown };
}

const REDACT_PATHS = [
  'apiKey',
  'token',
  'secret',
  'password',
  'authorization',
  '*.apiKey',
  '*.token',
  '*.secret',
  '*.authorization',
  'headers.authorization',
  'headers["x-api-key"]',
  '*.headers.authorization',
  '*.headers["x-api-key"]',
];

/** Creates the process logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const secrets = (options.secrets ?? []).filter((s) => s.length >= 4);
  const out = options.destination ?? process.stderr;
  const stream = {
    write(line: string) {
      out.write(scrubSecrets(line, secrets));
    },
  };
  return pino({ level: options.level ?? 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, stream);
}

/** Replaces every occurrence of each secret (and its JSON-escaped form) in `text`. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const s of secrets) {
    if (result.includes(s)) result = result.split(s).join('[redacted]');
  }
  return result;
}
