/**
 * The core: takes a normalised `Incoming` from any adapter and answers it through its `Reply`.
 * It knows no platform. Per event: de-duplicate, then queue on the thread (strict order within
 * a thread, concurrency across threads), then run a command or ask the assistant.
 */
import { randomBytes } from 'node:crypto';
import type { AsyntaiClient } from '../asyntai/client.js';
import { AsyntaiError } from '../asyntai/errors.js';
import type { Logger } from '../log.js';
import { UsageError, type CommandContext, type CommandDefinition } from './commands/command.js';
import { COMMANDS, findCommand } from './commands/registry.js';
import { KeyedQueue, QueueFullError } from './keyed-queue.js';
import { RateLimiter } from './rate-limiter.js';
import type { SessionMap } from './session-map.js';
import type { StateStore } from './state-store.js';
import type { Incoming, Reply } from './types.js';
import { describeError, MESSAGES } from './user-messages.js';
import { WebsiteBindings } from './website-bindings.js';

export interface BridgeOptions {
  client: AsyntaiClient;
  store: StateStore;
  sessions: SessionMap;
  logger: Logger;
  /** ASYNTAI_WEBSITE_ID: the website of spaces without a binding. */
  websiteId?: number | undefined;
  /** MAX_MESSAGE_CHARS. */
  maxMessageChars?: number;
  /** USER_RATE_LIMIT: questions per user per minute; 0 turns it off. */
  userRateLimit?: number;
  /** Pending messages per thread before new ones are refused. */
  maxPendingPerThread?: number;
  /** How often "typing…" is renewed while the assistant thinks (platforms show it ~5 s). */
  typingIntervalMs?: number;
}

/** An event is claimed for this long while it is handled; a crash frees it for a redelivery. */
const CLAIM_TTL_MS = 5 * 60_000;
/** A handled event is remembered this long, longer than any platform retries. */
const DONE_TTL_MS = 24 * 60 * 60_000;

export class Bridge {
  private readonly queue: KeyedQueue;
  private readonly limiter: RateLimiter;
  private readonly websites: WebsiteBindings;
  private readonly maxMessageChars: number;
  private readonly typingIntervalMs: number;
  private lastAuthErrorLog = 0;

  constructor(private readonly options: BridgeOptions) {
    this.queue = new KeyedQueue(options.maxPendingPerThread ?? 20);
    this.limiter = new RateLimiter(options.userRateLimit ?? 10);
    this.websites = new WebsiteBindings(options.store, options.websiteId);
    this.maxMessageChars = options.maxMessageChars ?? 4_000;
    this.typingIntervalMs = options.typingIntervalMs ?? 4_000;
  }

  /**
   * Handles one event; resolves when it has been answered. Never rejects: an adapter can call it
   * without a try/catch and one bad event cannot crash the process.
   */
  readonly handle = async (incoming: Incoming, reply: Reply): Promise<void> => {
    const log = this.options.logger.child({ event: incoming.eventId, thread: incoming.threadKey });
    const command = this.commandOf(incoming);
    const text = incoming.text.trim();
    if (!command && text === '') return; // nothing to answer: stickers, empty mentions
    try {
      // Enqueue synchronously, before any await, so a thread's messages keep their arrival order.
      await this.queue.run(incoming.threadKey, () => this.once(incoming, () =>
        command ? this.runCommand(incoming, reply, command.name, command.args) : this.ask(incoming, reply, text),
      ));
    } catch (err) {
      if (err instanceof QueueFullError) await reply.text(MESSAGES.queueFull).catch((e: unknown) => log.warn({ err: e }, 'could not send'));
      // Only a failure to answer at all lands here (the platform refused even the apology).
      else log.error({ err }, 'could not handle event');
    }
  };

  /**
   * Runs `work` unless this event was already handled (platform retries, or the same message
   * delivered as two events). Claim, don't mark: a claim that outlives a crash expires, and a
   * failure to answer frees it, so a redelivery is answered instead of lost.
   */
  private async once(incoming: Incoming, work: () => Promise<void>): Promise<void> {
    const key = `event:${incoming.platform}:${incoming.eventId}`;
    if (!(await this.options.store.setIfNotExists(key, 'working', CLAIM_TTL_MS))) {
      this.options.logger.debug({ event: incoming.eventId }, 'duplicate event ignored');
      return;
    }
    try {
      await work();
    } catch (err) {
      await this.options.store.delete(key);
      throw err;
    }
    await this.options.store.set(key, 'done', DONE_TTL_MS);
  }

  /** The commands `isAdmin` may run, in menu order. */
  commandsFor(isAdmin: boolean): CommandDefinition[] {
    return COMMANDS.filter((c) => isAdmin || !c.adminOnly);
  }

  private commandOf(incoming: Incoming): { name: string; args: string } | undefined {
    if (incoming.command) return { name: incoming.command.name, args: incoming.command.args.trim() };
    const match = /^\/([A-Za-z0-9_-]+)(?:@\S+)?(?:\s+([\s\S]*))?$/.exec(incoming.text.trim());
    return match ? { name: match[1]!, args: (match[2] ?? '').trim() } : undefined;
  }

  private async runCommand(incoming: Incoming, reply: Reply, name: string, args: string): Promise<void> {
    const command = findCommand(name);
    if (!command) {
      await reply.text(MESSAGES.unknownCommand(name));
      return;
    }
    // Refusals are decided here, before any API call.
    if (command.adminOnly && !incoming.sender.isAdmin) {
      await reply.text(MESSAGES.adminOnly(command.name), { ephemeral: true });
      return;
    }
    if (command.personalData && !incoming.isPrivate && !reply.canEphemeral) {
      await reply.text(MESSAGES.privateOnly(command.name));
      return;
    }
    const ctx: CommandContext = {
      incoming,
      reply,
      args,
      client: this.options.client,
      sessions: this.options.sessions,
      websites: this.websites,
      websiteId: await this.websites.resolve(incoming.spaceKey),
      available: this.commandsFor(incoming.sender.isAdmin),
      ask: (question) => this.ask(incoming, reply, question.trim()),
    };
    try {
      await command.run(ctx);
    } catch (err) {
      if (err instanceof UsageError) await reply.text(MESSAGES.usage(command.usage, err.message), { ephemeral: true });
      else await this.answerError(incoming, reply, err);
    }
  }

  private async ask(incoming: Incoming, reply: Reply, question: string): Promise<void> {
    if (question === '') return;
    if (question.length > this.maxMessageChars) {
      await reply.text(MESSAGES.tooLong(this.maxMessageChars));
      return;
    }
    const userKey = `${incoming.platform}:${incoming.sender.id}`;
    if (!this.limiter.take(userKey)) {
      await reply.text(MESSAGES.rateLimited(Math.max(1, this.limiter.retryAfterSeconds(userKey))), { ephemeral: true });
      return;
    }
    const stopTyping = this.keepTyping(reply);
    try {
      const sessionId = await this.options.sessions.sessionFor(incoming.threadKey, incoming.platform);
      const websiteId = await this.websites.resolve(incoming.spaceKey);
      const answer = await this.options.client.chat({ message: question, sessionId, websiteId });
      stopTyping();
      await reply.text(answer.response);
    } catch (err) {
      stopTyping();
      await this.answerError(incoming, reply, err);
    }
  }

  /** Shows "typing…" now and renews it until stopped; failures to show it are ignored. */
  private keepTyping(reply: Reply): () => void {
    const typing = reply.typing?.bind(reply);
    if (!typing) return () => {};
    const show = () => void typing().catch(() => {});
    show();
    const timer = setInterval(show, this.typingIntervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  private async answerError(incoming: Incoming, reply: Reply, err: unknown): Promise<void> {
    const reference = randomBytes(4).toString('hex');
    const log = this.options.logger.child({ event: incoming.eventId, thread: incoming.threadKey, reference });
    if (err instanceof AsyntaiError && err.kind === 'unauthorized') {
      // Every message would log this; once a minute is enough for operators to notice.
      if (Date.now() - this.lastAuthErrorLog > 60_000) {
        this.lastAuthErrorLog = Date.now();
        log.error({ err }, 'Asyntai refused the API key (401): check ASYNTAI_API_KEY');
      }
    } else if (err instanceof AsyntaiError && err.kind !== 'protocol') {
      log.warn({ kind: err.kind, status: err.status, apiError: err.apiError }, 'Asyntai request failed');
    } else {
      log.error({ err }, 'failed to answer');
    }
    await reply.text(describeError(err, reference));
  }
}
