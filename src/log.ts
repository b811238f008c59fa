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

/**
 * Replaces every occurrence of each secret in `text`, both as written and JSON-escaped: a log line
 * is JSON, so a secret holding `"`, `\\` or a control character appears there escaped.
 */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) {
    // Escaped form first: replacing the raw form inside an escaped occurrence could leave a stray
    // backslash that breaks the line's JSON.
    const escaped = JSON.stringify(secret).slice(1, -1);
    for (const form of escaped === secret ? [secret] : [escaped, secret]) {
      if (result.includes(form)) result = result.split(form).join('[redacted]');
    }
  }
  return result;
}
