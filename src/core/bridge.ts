/**
 * The core: takes a normalised `Incoming` from any adapter and answers it through its `Reply`.
 * It knows no platform. First a synchronous decision the adapter can act on within the
 * platform's deadline (`decide`); then, per event: de-duplicate on the message, queue on the
 * thread (strict order within a thread, concurrency across threads), run a command or ask the
 * assistant.
 */
import { randomBytes } from 'node:crypto';
import type { AsyntaiClient } from '../asyntai/client.js';
import { AsyntaiError } from '../asyntai/errors.js';
import type { Logger } from '../log.js';
import { UsageError, type CommandContext, type CommandDefinition } from './commands/command.js';
import { COMMANDS, findCommand } from './commands/registry.js';
import { KeyedQueue, QueueFullError } from './keyed-queue.js';
import type { Handoff } from './handoff.js';
import type { Outbox } from './outbox.js';
import { RateLimiter, type UserRateLimit } from './rate-limiter.js';
import type { SessionMap } from './session-map.js';
import { StoreUnavailableError, type StateStore } from './state-store.js';
import type { ThreadOrder } from './thread-order.js';
import type { BridgePort, Capabilities, Choice, CompletionRequest, Decision, Incoming, OutgoingFile, Reply, SendOptions } from './types.js';
import { closestName, describeError, MESSAGES } from './user-messages.js';
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
  /** How long the assistant may take before "typing…" is shown at all; default 500 ms. */
  typingDelayMs?: number;
  /** Keeps answers the platform would not take, for later delivery; without it they are lost. */
  outbox?: Outbox;
  /** Human handoff: relays instead of asking the assistant while a person handles a thread. */
  handoff?: Handoff | undefined;
  /** The per-user limit shared by instances (Redis); default in-process, from `userRateLimit`. */
  limiter?: UserRateLimit;
  /** Order within a thread across instances (Redis); without it, order holds within this process. */
  threadOrder?: ThreadOrder;
  /** Told of each message, answer and dropped duplicate (metrics). */
  events?: BridgeEvents;
}

/** What the core reports as it works, for metrics; each call must be cheap. */
export interface BridgeEvents {
  messageReceived(platform: string): void;
  answerSent(platform: string): void;
  duplicateDropped(platform: string): void;
}

/** An event is claimed for this long while it is handled; a crash frees it for a redelivery. */
const CLAIM_TTL_MS = 5 * 60_000;
/** A handled event is remembered this long, longer than any platform retries. */
const DONE_TTL_MS = 24 * 60 * 60_000;
/** Discord gives autocomplete 3 s in all; the answer must leave time for the round trip. */
const COMPLETE_TIMEOUT_MS = 2_000;
const MAX_CHOICES = 25;
const IGNORE: Decision = { kind: 'ignore' };

export class Bridge implements BridgePort {
  private readonly queue: KeyedQueue;
  private readonly limiter: UserRateLimit;
  private readonly websites: WebsiteBindings;
  private readonly maxMessageChars: number;
  private readonly typingIntervalMs: number;
  private readonly typingDelayMs: number;
  /** When each kind of operator-facing failure was last logged: once a minute is enough. */
  private readonly lastLogged = new Map<string, number>();
  /** "Answered" marks still being written; `idle()` waits for them. */
  private readonly marking = new Set<Promise<void>>();

  constructor(private readonly options: BridgeOptions) {
    this.queue = new KeyedQueue(options.maxPendingPerThread ?? 20);
    this.limiter = options.limiter ?? new RateLimiter(options.userRateLimit ?? 10);
    this.websites = new WebsiteBindings(options.store, options.websiteId);
    this.maxMessageChars = options.maxMessageChars ?? 4_000;
    this.typingIntervalMs = options.typingIntervalMs ?? 4_000;
    this.typingDelayMs = options.typingDelayMs ?? 500;
  }

  /**
   * What to do with `incoming`, decided before any await: which command, for whose eyes, a form
   * to open, or a refusal that needs no API call. Adapters act on it within the platform's
   * deadline (acknowledge, defer ephemerally, open a modal), then call `handle`.
   */
  decide(incoming: Incoming, capabilities: Capabilities = {}): Decision {
    const typed = this.commandOf(incoming);
    // A file without text is run too: human handoff passes it on (the assistant takes no files).
    if (!typed) return incoming.text.trim() === '' && incoming.attachments.length === 0 ? IGNORE : { kind: 'run', command: undefined, ephemeral: false };
    const command = findCommand(typed.name);
    if (!command) {
      const suggestion = closestName(typed.name.toLowerCase().replace(/_/g, '-'), this.commandsFor(incoming.sender.isAdmin).map((c) => c.name));
      return { kind: 'refuse', text: MESSAGES.unknownCommand(typed.name, suggestion) };
    }
    if (command.adminOnly && !incoming.sender.isAdmin) return { kind: 'refuse', text: MESSAGES.adminOnly(command.name) };
    const given = typed.args !== '' || Object.keys(incoming.command?.values ?? {}).length > 0 || incoming.attachments.length > 0;
    if (command.form && capabilities.forms && !given) return { kind: 'form', form: { command: command.name, ...command.form } };
    return { kind: 'run', command: command.name, ephemeral: command.adminOnly || command.personalData === true };
  }

  /**
   * Handles one event; resolves when it has been answered. Never rejects: an adapter can call it
   * without a try/catch and one bad event cannot crash the process. `decision` is what the adapter
   * already acted on (decided again when absent).
   */
  readonly handle = async (incoming: Incoming, reply: Reply, decision: Decision = this.decide(incoming)): Promise<void> => {
    if (decision.kind === 'ignore' || decision.kind === 'form') return;
    this.options.events?.messageReceived(incoming.platform);
    // Taken before any await, like the enqueue below: fixes the message's place across instances.
    const ticket = this.options.threadOrder?.ticket(incoming.threadKey);
    try {
      // Enqueue synchronously, before any await, so a thread's messages keep their arrival order.
      await this.queue.run(incoming.threadKey, () => {
        const work = () =>
          this.once(incoming, () => {
            if (decision.kind === 'refuse') return reply.text(decision.text, privately(reply));
            return decision.command === undefined ? this.ask(incoming, reply, incoming.text.trim()) : this.runCommand(incoming, reply, decision);
          });
        return ticket ? ticket.run(work) : work();
      });
    } catch (err) {
      if (err instanceof QueueFullError) ticket?.cancel();
      const log = this.options.logger.child({ dedupe: incoming.dedupeKey, thread: incoming.threadKey });
      if (err instanceof QueueFullError || err instanceof StoreUnavailableError) {
        // The platform may redeliver; either way the user learns to try again rather than wait.
        if (err instanceof StoreUnavailableError && this.firstInAMinute('store')) log.error({ err }, 'the store failed; users are told to try again');
        await reply.text(err instanceof QueueFullError ? MESSAGES.queueFull : MESSAGES.storeUnavailable).catch((e: unknown) => log.warn({ err: e }, 'could not send'));
      }
      // Otherwise the platform refused to take even the apology.
      else log.error({ err }, 'could not handle event');
    }
  };

  /** See `BridgePort.followsThread`: a session for the thread, or a handoff's team thread (store reads). */
  async followsThread(threadKey: string): Promise<boolean> {
    if ((await this.options.sessions.peek(threadKey)) !== undefined) return true;
    return (await this.options.handoff?.isTeamThread(threadKey)) ?? false;
  }

  /** Autocomplete choices: no queue, no de-duplication, nothing for commands the sender may not run. */
  async complete(request: CompletionRequest): Promise<Choice[]> {
    const command = findCommand(request.command);
    if (!command?.complete || (command.adminOnly && !request.sender.isAdmin)) return [];
    try {
      const websiteId = await this.websites.resolve(request.spaceKey);
      const choices = await command.complete(
        { client: this.options.client, websiteId, signal: AbortSignal.timeout(COMPLETE_TIMEOUT_MS) },
        request.argument,
        request.partial,
      );
      return choices.slice(0, MAX_CHOICES);
    } catch (err) {
      this.options.logger.debug({ err, command: command.name }, 'autocomplete failed');
      return [];
    }
  }

  /**
   * Runs `work` unless this message was already handled (platform retries, or one message
   * delivered as two events). Claim, don't mark: a claim that outlives a crash expires, and a
   * failure to answer frees it, so a redelivery is answered instead of lost.
   */
  private async once(incoming: Incoming, work: () => Promise<void>): Promise<void> {
    const key = `dedupe:${incoming.platform}:${incoming.dedupeKey}`;
    if (!(await this.options.store.setIfNotExists(key, 'working', CLAIM_TTL_MS))) {
      this.options.logger.debug({ dedupe: incoming.dedupeKey }, 'duplicate message ignored');
      this.options.events?.duplicateDropped(incoming.platform);
      return;
    }
    try {
      await work();
    } catch (err) {
      await this.options.store.delete(key);
      throw err;
    }
    this.options.events?.answerSent(incoming.platform);
    // Answered already: a store that fails now must not add "try again" to the answer. The claim
    // still blocks redeliveries until it expires. Written in the background: nobody waits for it,
    // and the thread's next message need not either (one store round trip less per message on
    // Redis; README "Performance"); `idle()` waits for it before a shutdown.
    const mark = this.options.store
      .set(key, 'done', DONE_TTL_MS)
      .catch((err: unknown) => this.options.logger.warn({ err, dedupe: incoming.dedupeKey }, 'could not mark the message answered'))
      .finally(() => this.marking.delete(mark));
    this.marking.add(mark);
  }

  /** Messages queued or being answered in this instance. */
  get pending(): number {
    return this.queue.pending;
  }

  /** Resolves once every message received so far is answered and marked so (for a graceful shutdown). */
  async idle(): Promise<void> {
    await this.queue.idle();
    await Promise.all([...this.marking]);
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

  private async runCommand(incoming: Incoming, base: Reply, decision: Extract<Decision, { kind: 'run' }>): Promise<void> {
    const command = findCommand(decision.command!)!;
    let reply = decision.ephemeral ? ephemeralWherePossible(base) : base;
    if (command.personalData && !incoming.isPrivate) {
      const personal = await this.personalReply(base);
      if (!personal) {
        await base.text(MESSAGES.privateOnly(command.name), privately(base));
        return;
      }
      reply = personal;
    }
    const typed = this.commandOf(incoming)!;
    const values = incoming.command?.values ?? {};
    const single = command.args.length === 1 ? values[command.args[0]!.name] : undefined;
    const ctx: CommandContext = {
      incoming,
      reply,
      args: (single ?? typed.args).trim(),
      values,
      client: this.options.client,
      sessions: this.options.sessions,
      websites: this.websites,
      websiteId: await this.websites.resolve(incoming.spaceKey),
      available: this.commandsFor(incoming.sender.isAdmin),
      ask: (question) => this.ask(incoming, base, question.trim()),
      handoff: this.options.handoff,
    };
    try {
      await command.run(ctx);
    } catch (err) {
      if (err instanceof UsageError) await reply.text(MESSAGES.usage(command.usage, err.message), privately(reply));
      else await this.answerError(incoming, reply, err);
    }
  }

  /**
   * A reply only the sender can read, for personal data in a public place: ephemeral where the
   * platform has it (files too, else files go to the DM), else the sender's DM with a short public
   * pointer, else undefined (the core refuses rather than post publicly).
   */
  private async personalReply(base: Reply): Promise<Reply | undefined> {
    const openDm = base.directMessage?.bind(base);
    let dm: Promise<Reply | undefined> | undefined;
    const direct = () => (dm ??= openDm ? openDm().catch(() => undefined) : Promise.resolve(undefined));
    if (base.ephemeral?.text) {
      const text = (markdown: string) => base.text(markdown, { ephemeral: true });
      if (base.ephemeral.file && base.file) return { text, file: (f) => base.file!(f, { ephemeral: true }) };
      return {
        text,
        file: async (f) => {
          const target = await direct();
          if (target?.file) await target.file(f);
          else await text(MESSAGES.fileNotPrivate);
        },
      };
    }
    const target = await direct();
    if (!target) return undefined;
    await base.text(MESSAGES.sentToDm);
    return target;
  }

  private async ask(incoming: Incoming, reply: Reply, question: string): Promise<void> {
    if (question === '' && incoming.attachments.length === 0) return;
    // A handoff relays it instead (a team member's message, or the customer's to a person).
    if (await this.options.handoff?.intercept(incoming, reply, question)) return;
    if (question === '') return; // a file alone, outside a handoff: nothing to ask
    if (question.length > this.maxMessageChars) {
      await reply.text(MESSAGES.tooLong(this.maxMessageChars));
      return;
    }
    const userKey = `${incoming.platform}:${incoming.sender.id}`;
    if (!(await this.limiter.take(userKey))) {
      await reply.text(MESSAGES.rateLimited(Math.max(1, await this.limiter.retryAfterSeconds(userKey))), privately(reply));
      return;
    }
    const stopTyping = this.keepTyping(reply);
    let response: string;
    try {
      // Independent reads in one tick: Redis pipelines them, SQLite runs them side by side
      // (one store round trip fewer per message; README "Performance").
      const [sessionId, websiteId] = await Promise.all([
        this.options.sessions.sessionFor(incoming.threadKey, incoming.platform),
        this.websites.resolve(incoming.spaceKey),
      ]);
      response = (await this.options.client.chat({ message: question, sessionId, websiteId })).response;
    } catch (err) {
      stopTyping();
      if (err instanceof StoreUnavailableError) throw err;
      await this.answerError(incoming, reply, err);
      return;
    }
    stopTyping();
    // Empty while a person answers in the Asyntai dashboard: platforms refuse empty messages.
    if (response.trim() !== '') await this.deliverAnswer(incoming, reply, response);
    await this.options.handoff?.afterAnswer(incoming, question, response);
  }

  /**
   * Sends an answer the plan already paid for. If the platform will not take it, the outbox keeps
   * it and delivers it later, so the message counts as answered; a thread with answers waiting
   * queues the new one behind them, keeping the order.
   */
  private async deliverAnswer(incoming: Incoming, reply: Reply, response: string): Promise<void> {
    const { outbox } = this.options;
    if (!outbox) return reply.text(response);
    if (!outbox.holds(incoming.threadKey)) {
      try {
        await reply.text(response);
        return;
      } catch (err) {
        this.options.logger.warn({ err, thread: incoming.threadKey }, 'the platform would not take an answer; kept for later delivery');
      }
    }
    await outbox.keep(incoming.platform, incoming.threadKey, response);
    void outbox.flush();
  }

  /**
   * Shows "typing…" once the assistant has taken `typingDelayMs`, and renews it until stopped;
   * failures to show it are ignored. An answer within the delay needs no indicator: it saves one
   * platform call per message (two on Slack, a reaction added and removed), which count against
   * the platforms' rate limits, and the call no longer races the answer (README "Performance").
   */
  private keepTyping(reply: Reply): () => void {
    const typing = reply.typing?.bind(reply);
    if (!typing) return () => {};
    const show = () => void typing().catch(() => {});
    let renew: NodeJS.Timeout | undefined;
    const first = setTimeout(() => {
      show();
      renew = setInterval(show, this.typingIntervalMs).unref();
    }, this.typingDelayMs).unref();
    return () => {
      clearTimeout(first);
      clearInterval(renew);
    };
  }

  private async answerError(incoming: Incoming, reply: Reply, err: unknown): Promise<void> {
    const reference = randomBytes(4).toString('hex');
    const log = this.options.logger.child({ dedupe: incoming.dedupeKey, thread: incoming.threadKey, reference });
    if (err instanceof AsyntaiError && err.kind === 'unauthorized') {
      if (this.firstInAMinute('unauthorized')) log.error({ err }, 'Asyntai refused the API key (401): check ASYNTAI_API_KEY');
    } else if (err instanceof AsyntaiError && err.kind !== 'protocol') {
      log.warn({ kind: err.kind, status: err.status, apiError: err.apiError }, 'Asyntai request failed');
    } else {
      log.error({ err }, 'failed to answer');
    }
    await reply.text(describeError(err, reference));
  }

  /** True at most once a minute per `kind`: every message would log the same outage otherwise. */
  private firstInAMinute(kind: string): boolean {
    const now = Date.now();
    if (now - (this.lastLogged.get(kind) ?? 0) < 60_000) return false;
    this.lastLogged.set(kind, now);
    return true;
  }
}

/** Options that keep text to the sender where this reply can, and public otherwise. */
function privately(reply: Reply): SendOptions | undefined {
  return reply.ephemeral?.text ? { ephemeral: true } : undefined;
}

/** Admin output: to the sender alone where the platform can, per operation; else as usual. */
function ephemeralWherePossible(reply: Reply): Reply {
  const { ephemeral } = reply;
  if (!ephemeral?.text && !ephemeral?.file) return reply;
  const file = reply.file?.bind(reply);
  return {
    ephemeral,
    text: (markdown) => reply.text(markdown, ephemeral.text ? { ephemeral: true } : undefined),
    ...(file ? { file: (f: OutgoingFile) => file(f, ephemeral.file ? { ephemeral: true } : undefined) } : {}),
    ...(reply.directMessage ? { directMessage: reply.directMessage.bind(reply) } : {}),
  };
}
