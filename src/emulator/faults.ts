/**
 * Fault injection for tests, reachable only through the programmatic handle (never a route):
 * failures with a chosen status, latency, malformed 200 bodies and dropped connections.
 */

/** Test-only control over how the emulator misbehaves. */
export interface FaultInjector {
  /** The next `count` requests (any route, after auth) answer this status with {success:false,error}; optional Retry-After seconds. */
  failNext(count: number, status: number, options?: { error?: string; retryAfterSeconds?: number }): void;
  /** Every request waits this long before answering (0 to clear). */
  setLatency(ms: number): void;
  /** The next `count` requests answer 200 with a body that does NOT match the documented shape. */
  malformNext(count: number): void;
  /** The next `count` requests have their connection destroyed without a response. */
  dropNext(count: number): void;
  clear(): void;
}

/** The fault one request gets. Faulted requests have no side effects. */
export type Fault =
  | { kind: 'drop' }
  | { kind: 'fail'; status: number; error: string; retryAfterSeconds: number | undefined }
  | { kind: 'malform' };

/** A body that fails every documented schema: `success` is not a boolean and no field is present. */
export const MALFORMED_BODY = { success: 'maybe', note: 'malformed on purpose by the emulator fault injector' };

export class Faults implements FaultInjector {
  /** Milliseconds every request waits. */
  latencyMs = 0;
  private drops = 0;
  private malforms = 0;
  private failures: { count: number; status: number; error: string; retryAfterSeconds: number | undefined } | null = null;

  failNext(count: number, status: number, options: { error?: string; retryAfterSeconds?: number } = {}): void {
    this.failures = {
      count,
      status,
      error: options.error ?? (status === 503 ? 'AI service temporarily unavailable' : `Injected failure (HTTP ${status})`),
      retryAfterSeconds: options.retryAfterSeconds,
    };
  }

  setLatency(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  malformNext(count: number): void {
    this.malforms = count;
  }

  dropNext(count: number): void {
    this.drops = count;
  }

  clear(): void {
    this.latencyMs = 0;
    this.drops = 0;
    this.malforms = 0;
    this.failures = null;
  }

  /** Takes the fault for the current request, drops first, then failures, then malformed bodies. */
  take(): Fault | null {
    if (this.drops > 0) {
      this.drops -= 1;
      return { kind: 'drop' };
    }
    if (this.failures !== null && this.failures.count > 0) {
      this.failures.count -= 1;
      const { status, error, retryAfterSeconds } = this.failures;
      return { kind: 'fail', status, error, retryAfterSeconds };
    }
    if (this.malforms > 0) {
      this.malforms -= 1;
      return { kind: 'malform' };
    }
    return null;
  }
}
