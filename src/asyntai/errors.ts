/**
 * The one error type of the Asyntai client. `kind` is stable and is what callers branch on;
 * `status` and `apiError` carry what the server said, `cause` what went wrong underneath.
 */
export type AsyntaiErrorKind =
  | 'bad_request' // 400: the request was refused as malformed or missing fields
  | 'unauthorized' // 401: the key is missing or invalid
  | 'not_found' // 404: unknown id or route
  | 'rate_limited' // 429: the plan's message limit is reached
  | 'unavailable' // 503 (or another 5xx): the service produced no answer
  | 'timeout' // no response within the request's time limit
  | 'network' // the connection failed (refused, reset, DNS)
  | 'protocol'; // a response whose status or body does not match the documented contract

export class AsyntaiError extends Error {
  override readonly name = 'AsyntaiError';
  readonly kind: AsyntaiErrorKind;
  /** HTTP status when a response was received. */
  readonly status: number | undefined;
  /** The API's own `error` text, when it sent one. */
  readonly apiError: string | undefined;
  /** The server's Retry-After, in milliseconds, when it sent one. */
  readonly retryAfterMs: number | undefined;

  constructor(
    kind: AsyntaiErrorKind,
    message: string,
    options: { status?: number; apiError?: string; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.status = options.status;
    this.apiError = options.apiError;
    this.retryAfterMs = options.retryAfterMs;
  }

  /** Whether a retry of the same request may succeed: no answer was produced. */
  get retryable(): boolean {
    return this.kind === 'unavailable' || this.kind === 'network';
  }
}

/** Maps an HTTP error status to the error kind the reference documents for it. */
export function kindForStatus(status: number): AsyntaiErrorKind {
  if (status === 400 || status === 422) return 'bad_request';
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 404) return 'not_found';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'unavailable';
  return 'protocol';
}
