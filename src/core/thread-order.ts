/**
 * Order within a thread across instances sharing one Redis. Inside one process the core's keyed
 * queue keeps a thread's messages in order; two instances behind a load balancer each see part of
 * a burst, so the order must be fixed in the shared store.
 *
 * Each message takes a ticket (INCR of the thread's counter) the moment the core receives it, in
 * the synchronous part of `Bridge.handle`: node-redis writes commands in call order on one
 * connection, so a thread's messages get increasing tickets in receipt order, within an instance
 * and across instances. Tickets are served in order: `serving` names the ticket whose turn it is.
 * Each live ticket has a lease key the owning instance renews; when an instance dies, its leases
 * expire and the next waiter moves `serving` past them, so one crash holds a thread for at most
 * one lease, never for ever.
 */
import type { RedisConnection } from './redis-connection.js';
import { withinTime } from './state-store.js';

/** The line of one thread's messages; `Bridge` runs each message inside its ticket. */
export interface ThreadOrder {
  /** Takes the next place in `threadKey`'s line. The place is fixed once this returns. */
  ticket(threadKey: string): Ticket;
  /** Stops renewing leases; the connection belongs to the caller. */
  close(): void;
}

/** One place in a thread's line. Exactly one of `run` and `cancel` must be called. */
export interface Ticket {
  /** Waits for this ticket's turn, runs `work`, then passes the turn on (also when `work` fails). */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Gives the place up without running (the event was refused); the line moves past it. */
  cancel(): void;
}

export interface RedisThreadOrderOptions {
  /** Key prefix, like the store's namespace (`bridge`). */
  namespace?: string;
  /** How long a ticket outlives its instance; renewed every third of it. Default 15 s. */
  leaseMs?: number;
  /** Time limit of each Redis call (STORE_TIMEOUT_MS). Default 2 s. */
  timeoutMs?: number;
}

/** A thread's counters outlive its last message by this much, then start again from 1. */
const IDLE_TTL_MS = 24 * 60 * 60_000;
/** Waiting for another instance's turn: first re-check soon, then back off to this. */
const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 200;

/**
 * KEYS: next, serving. ARGV: lease-key prefix, lease ms, idle ms. A counter that expired while
 * `serving` lingered starts a fresh line: both go together.
 */
const TAKE_TICKET = `
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('DEL', KEYS[2]) end
local t = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('SET', ARGV[1] .. t, '1', 'PX', ARGV[2])
return t`;

/**
 * KEYS: next, serving. ARGV: lease-key prefix, idle ms, ticket to finish (0: none). Drops the
 * finished ticket's lease, then moves `serving` past every ticket whose lease is gone (finished,
 * cancelled, or its instance died) and returns it: the ticket whose turn it is.
 */
const ADVANCE = `
if tonumber(ARGV[3]) > 0 then redis.call('DEL', ARGV[1] .. ARGV[3]) end
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local s = tonumber(redis.call('GET', KEYS[2]) or '1')
while s <= last and redis.call('EXISTS', ARGV[1] .. s) == 0 do s = s + 1 end
redis.call('SET', KEYS[2], s, 'PX', ARGV[2])
return s`;

/** Thread order in Redis (STORE_URL=redis://…); see the file comment. */
export class RedisThreadOrder implements ThreadOrder {
  private readonly prefix: string;
  private readonly leaseMs: number;
  private readonly timeoutMs: number;
  /** Lease keys of this instance's live tickets, renewed together. */
  private readonly leases = new Set<string>();
  private readonly renewTimer: NodeJS.Timeout;

  constructor(
    private readonly redis: RedisConnection,
    options: RedisThreadOrderOptions = {},
  ) {
    this.prefix = `${options.namespace ?? 'bridge'}::order:`;
    this.leaseMs = options.leaseMs ?? 15_000;
    this.timeoutMs = options.timeoutMs ?? 2_000;
    this.renewTimer = setInterval(() => void this.renew(), Math.max(1, Math.floor(this.leaseMs / 3))).unref();
  }

  ticket(threadKey: string): Ticket {
    const keys = [`${this.prefix}${threadKey}:next`, `${this.prefix}${threadKey}:serving`];
    const leasePrefix = `${this.prefix}${threadKey}:t:`;
    const advance = (finished: number) =>
      this.call('pass the turn on', this.redis.eval(ADVANCE, { keys, arguments: [leasePrefix, String(IDLE_TTL_MS), String(finished)] })).then(Number);
    const finish = async (ticket: number) => {
      this.leases.delete(leasePrefix + ticket);
      // If Redis is down now, the lease expires on its own and the next waiter moves past it.
      await advance(ticket).catch(() => undefined);
    };
    // Issued now, before the caller awaits anything: this fixes the place in the line.
    const command = this.redis.eval(TAKE_TICKET, { keys, arguments: [leasePrefix, String(this.leaseMs), String(IDLE_TTL_MS)] });
    const number = this.call('take a place in the thread order', command).then((reply) => {
      const ticket = Number(reply);
      this.leases.add(leasePrefix + ticket);
      return ticket;
    });
    // The failure is reported by `run`. A ticket that timed out may still be taken once a frozen
    // Redis wakes up: give it up then, or the thread would wait a whole lease for it.
    number.catch(() => command.then((reply) => finish(Number(reply)), () => undefined));
    return {
      run: async <T>(work: () => Promise<T>): Promise<T> => {
        const ticket = await number;
        try {
          for (let delay = FIRST_POLL_MS; (await advance(0)) < ticket; delay = Math.min(MAX_POLL_MS, delay * 2)) {
            await new Promise((resolve) => setTimeout(resolve, delay));
          }
          return await work();
        } finally {
          await finish(ticket);
        }
      },
      cancel: () => void number.then(finish, () => undefined),
    };
  }

  close(): void {
    clearInterval(this.renewTimer);
    this.leases.clear();
  }

  private call<T>(what: string, command: Promise<T>): Promise<T> {
    return withinTime(what, this.timeoutMs, command);
  }

  /** Keeps this instance's tickets alive; a failed renewal is retried on the next tick. */
  private async renew(): Promise<void> {
    if (this.leases.size === 0) return;
    const multi = this.redis.multi();
    for (const key of this.leases) multi.pExpire(key, this.leaseMs);
    await this.call('renew thread-order leases', multi.exec()).catch(() => undefined);
  }
}
