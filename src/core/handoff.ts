/**
 * Human handoff: a customer's conversation handed to a person on the team, and back.
 *
 * It starts with Asyntai's `escalation.requested` webhook or `/human`: the customer is told a
 * person has been asked to join, and an alert goes to TEAM_CHANNEL (possibly on another platform).
 * Until someone takes it, the assistant keeps answering and each exchange is copied under the
 * alert. A team member takes over by replying to the alert (in its thread, or as a reply to it);
 * from then on messages are relayed both ways, files too (up to 10 MB, where the receiving adapter
 * has `sendFile`; otherwise a line says a file could not be passed on), and the assistant stays
 * quiet. A takeover in the Asyntai dashboard (`takeover.started`) instead keeps the customer's
 * messages going to /chat/ and relays what the agent writes there, read from /conversations/.
 * `/resume`, or no message from the team for HANDOFF_IDLE_MINUTES, ends it.
 *
 * State lives in the store (it survives restarts and is shared by instances):
 * - `handoff:<thread key>`: the customer side (`CustomerSide`) under the customer's thread, or the
 *   team side (`TeamSide`) under a team thread an adapter opened. One read per message decides.
 * - `handoff-ref:<message reference>`: the team side, for platforms where the team replies to a
 *   message rather than in a thread (Telegram); read only when a message carries `replyTo`.
 * - `handoff-active:<thread key>`: which handoffs exist, for the timers of every instance.
 * - `handoff-mine:` / `handoff-seen:`: what was delivered or relayed in a dashboard takeover.
 *
 * Changes to a customer entry are made from a fresh read under a per-thread lock of this process;
 * between instances the last write wins (a takeover and a customer's new name at the same instant
 * on two instances could lose one of them). Ending is claimed by the store's delete, so both sides
 * are told once. A team message costs a second read (its customer entry); the customer's path one.
 */
import { createHash } from 'node:crypto';
import type { AsyntaiClient } from '../asyntai/client.js';
import type { Logger } from '../log.js';
import type { Outbox } from './outbox.js';
import type { SessionMap } from './session-map.js';
import type { StateStore } from './state-store.js';
import type { Adapter, Attachment, Incoming, OutgoingFile, PlatformName, Reply } from './types.js';

export interface HandoffOptions {
  store: StateStore;
  sessions: SessionMap;
  client: AsyntaiClient;
  logger: Logger;
  /** TEAM_CHANNEL's address (`slack:C0123`, `discord:<channel>`, `telegram:<chat>`); none: notices only. */
  teamChannel?: string | undefined;
  /** HANDOFF_POLL_SECONDS in ms: how often a dashboard takeover's conversation is read; default 5 s. */
  pollMs?: number;
  /** HANDOFF_IDLE_MINUTES in ms: a handoff without a message from the team this long ends; default 30 min. */
  idleMs?: number;
  /** How often the store is scanned for handoffs started by other instances or before a restart; default 1 min. */
  scanMs?: number;
  /** Keeps relays to the customer that the platform would not take, for later delivery. */
  outbox?: Outbox | undefined;
}

/** An Asyntai webhook, as the receiver read it (src/http/asyntai-webhooks.ts). */
export interface AsyntaiEvent {
  event: string;
  sessionId: string;
  /** `data.reason` of an escalation. */
  reason?: string | undefined;
  /** `data.message`: the visitor's message that caused the event. */
  message?: string | undefined;
  /** The event's `timestamp`, ISO 8601. */
  timestamp?: string | undefined;
}

/** Who is talking to the customer: the assistant while `waiting`; a person otherwise. */
type Mode = 'waiting' | 'person' | 'dashboard';

/** The customer side of a handoff, under `handoff:<customer thread key>`. */
interface CustomerSide {
  side: 'customer';
  threadKey: string;
  sessionId?: string | undefined;
  /** `Sender.name` of the customer's last message; unknown when a webhook started it. */
  customer?: string | undefined;
  mode: Mode;
  /** Where the team talks about it (a thread key or a message reference); none without TEAM_CHANNEL. */
  teamThread?: string | undefined;
  startedAt: number;
  /** When a person took over; a dashboard takeover relays agent messages dated after it. */
  takenAt?: number | undefined;
  takenBy?: string | undefined;
  /** The team's last message (or the start): the idle time counts from here. */
  lastTeamAt: number;
}

/** The team side: under `handoff:<team thread key>` or `handoff-ref:<reference>`. */
interface TeamSide {
  side: 'team';
  /** Null for a session the bridge did not make: its alert cannot be answered from here. */
  customerThread: string | null;
  sessionId?: string | undefined;
}

type Entry = CustomerSide | TeamSide;

const entryKey = (threadKey: string) => `handoff:${threadKey}`;
const refKey = (reference: string) => `handoff-ref:${reference}`;
const activeKey = (threadKey: string) => `handoff-active:${threadKey}`;
const ACTIVE_PREFIX = 'handoff-active:';
/** Team entries and references outlive the handoff, so a late reply is told it ended. */
const TEAM_TTL_MS = 7 * 24 * 60 * 60_000;
/** What a dashboard takeover delivered or relayed is remembered this long. */
const SEEN_TTL_MS = 7 * 24 * 60 * 60_000;
/** A /chat/ call longer than this no longer holds back the poll of its thread. */
const ASKING_HOLD_MS = 2 * 60_000;
/** The most recent messages a poll reads (the API's maximum). */
const POLL_LIMIT = 100;
/**
 * Files larger than this are not passed on between the sides of a handoff: each is held in memory
 * while it is relayed, and the platforms' bot uploads end near it (Discord 10 MB without boosts).
 */
const MAX_RELAY_FILE_BYTES = 10 * 1024 * 1024;

/** What each side reads. Markdown; adapters render it. */
const SAY = {
  asked: 'I have asked a person from our team to join this conversation. Until someone does, I will keep answering.',
  alreadyAsked: 'A person from our team has already been asked to join this conversation.',
  teamUnreachable: 'I could not reach our team just now. Please try /human again in a few minutes.',
  notSetUp: 'Handing this conversation to a person is not set up for this bot.',
  joined: (name: string | undefined) => `${name ?? 'A person'} from our team has joined the conversation.`,
  dashboardJoined: 'A member of our team has joined the conversation.',
  relayFailed: 'I could not pass that on to our team just now. Please send it again in a moment.',
  notDelivered: 'That did not reach the customer (their platform refused it or is out of reach). Please send it again in a moment.',
  back: 'You are talking with the assistant again. Ask me anything.',
  backAfterIdle: 'Our team member has left the conversation. You are talking with the assistant again.',
  nobodyCame: 'Nobody from our team could join this time. I will keep answering your questions here.',
  nothingToEnd: 'There is no handoff in this conversation. In the team channel, send /resume in the thread of the handoff you want to end (or as a reply to one of its messages).',
  resumeAdminOnly: 'Only an admin, or the team in the handoff\'s thread, can end the handoff.',
  ended: 'The handoff has ended: the assistant answers this customer again.',
  alreadyEnded: 'This handoff has already ended: the assistant answers the customer again.',
  teamThread: 'This is the team\'s thread of a handoff: your messages here go to the customer, and /resume ends it.',
  notOurs: 'This conversation is not in a chat this bridge serves; answer it in the Asyntai dashboard.',
} as const;

export class Handoff {
  private readonly adapters = new Map<PlatformName, Adapter>();
  /** Customer thread keys of the handoffs this instance knows of (timers act on them). */
  private readonly active = new Set<string>();
  /** Per customer thread: serialises changes to its entry within this process. */
  private readonly locks = new Map<string, Promise<void>>();
  /** Per customer thread: the team thread to copy the exchange under, set by intercept. */
  private readonly copies = new Map<string, { teamThread: string; customer: string }>();
  /** Per customer thread in a dashboard takeover: when a /chat/ call began (the poll waits). */
  private readonly asking = new Map<string, number>();
  private readonly pollMs: number;
  private readonly idleMs: number;
  private readonly scanMs: number;
  private tickTimer: NodeJS.Timeout | undefined;
  private scanTimer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private readonly work = new Set<Promise<unknown>>();

  constructor(private readonly options: HandoffOptions) {
    this.pollMs = options.pollMs ?? 5_000;
    this.idleMs = options.idleMs ?? 30 * 60_000;
    this.scanMs = options.scanMs ?? 60_000;
  }

  /** Lets handoffs post through `adapter` (the customer's platform, the team's, or both). */
  attach(adapter: Adapter): void {
    this.adapters.set(adapter.platform, adapter);
  }

  /** Starts the timers: idle expiry and dashboard polls, and a scan for handoffs now and every minute. */
  start(): void {
    const every = Math.max(10, Math.min(this.pollMs, this.idleMs));
    this.tickTimer ??= setInterval(() => void this.tick(), every).unref();
    this.scanTimer ??= setInterval(() => void this.scan(), this.scanMs).unref();
    void this.scan();
  }

  /** Stops the timers and waits for work under way. */
  async stop(): Promise<void> {
    clearInterval(this.tickTimer);
    clearInterval(this.scanTimer);
    this.tickTimer = this.scanTimer = undefined;
    await this.ticking;
    await Promise.allSettled([...this.work]);
  }

  // --- the message path (called by the bridge before and after asking the assistant) ---

  /**
   * Called before `question` goes to the assistant. True when the handoff took the message: a
   * team member's message relayed to the customer, or the customer's relayed to the team while a
   * person handles the conversation. One store read for a thread without a handoff (two when the
   * message replies to a bot message). `incoming.attachments` are passed on with the text (see
   * `relayFile`); `question` may be empty for a file alone.
   */
  async intercept(incoming: Incoming, reply: Reply, question: string): Promise<boolean> {
    const { threadKey } = incoming;
    this.copies.delete(threadKey);
    let entry = await this.options.store.get<Entry>(entryKey(threadKey));
    if (!entry && incoming.replyTo) entry = await this.options.store.get<TeamSide>(refKey(incoming.replyTo));
    if (!entry) return false;
    if (entry.side === 'team') {
      await this.fromTeam(entry, incoming, reply, question);
      return true;
    }
    const customer = incoming.sender.name ?? entry.customer ?? 'Customer';
    if (incoming.sender.name && incoming.sender.name !== entry.customer) {
      await this.update(threadKey, (e) => ({ ...e, customer: incoming.sender.name }));
    }
    if (entry.mode === 'person') {
      if (!entry.teamThread) return false; // nobody could read it: let the assistant answer
      const teamThread = entry.teamThread;
      try {
        if (question !== '') await this.postToTeam(threadKey, teamThread, `${customer}: ${question}`);
        for (const attachment of incoming.attachments) {
          await this.relayFile(attachment, teamThread, customer, {
            file: (file) => this.postFileToTeam(threadKey, teamThread, file),
            text: (markdown) => this.postToTeam(threadKey, teamThread, markdown),
          });
        }
      } catch (err) {
        this.options.logger.warn({ err, thread: threadKey }, 'handoff: could not relay a customer message to the team');
        await reply.text(SAY.relayFailed);
      }
      return true;
    }
    // A file alone: nothing to ask the assistant, which takes no files.
    if (question === '') return true;
    if (entry.mode === 'dashboard') this.asking.set(threadKey, Date.now());
    else if (entry.teamThread) this.copies.set(threadKey, { teamThread: entry.teamThread, customer });
    return false;
  }

  /**
   * Called after the assistant answered `question` (whether or not the answer was empty): copies
   * the exchange under the alert while nobody has taken it, and remembers what was delivered in a
   * dashboard takeover so its poll does not relay it again. Never rejects.
   */
  async afterAnswer(incoming: Incoming, question: string, response: string): Promise<void> {
    const { threadKey } = incoming;
    const copy = this.copies.get(threadKey);
    this.copies.delete(threadKey);
    try {
      if (this.asking.delete(threadKey) && response.trim() !== '') {
        const sessionId = await this.options.sessions.peek(threadKey);
        if (sessionId) await this.options.store.set(`handoff-mine:${sessionId}:${digest(response)}`, 1, SEEN_TTL_MS);
      }
      if (copy) await this.postToTeam(threadKey, copy.teamThread, `${copy.customer}: ${question}\nAssistant: ${response || '(no answer)'}`);
    } catch (err) {
      this.options.logger.warn({ err, thread: threadKey }, 'handoff: could not copy an exchange to the team');
    }
  }

  /** True when `threadKey` is a team thread an adapter opened for an alert (one store read). */
  async isTeamThread(threadKey: string): Promise<boolean> {
    return (await this.options.store.get<Entry>(entryKey(threadKey)))?.side === 'team';
  }

  // --- commands ---

  /** `/human [reason]`: hands this conversation to a person; the notice is the command's answer. */
  async request(incoming: Incoming, reply: Reply, reason: string): Promise<void> {
    const { threadKey } = incoming;
    // A team thread is not a customer's conversation: a handoff there would replace its link.
    if ((await this.options.store.get<Entry>(entryKey(threadKey)))?.side === 'team') return reply.text(SAY.teamThread);
    const sessionId = await this.options.sessions.peek(threadKey);
    const question = sessionId ? await this.lastQuestion(sessionId) : undefined;
    await this.begin({
      threadKey,
      sessionId,
      customer: incoming.sender.name,
      question,
      reason: reason || undefined,
      notify: (markdown) => reply.text(markdown),
      already: () => reply.text(SAY.alreadyAsked),
    });
  }

  /**
   * `/resume`: ends the handoff of this thread. On the customer's side only an admin may; in the
   * team thread (or replying to one of its messages) anyone may.
   */
  async resume(incoming: Incoming, reply: Reply): Promise<void> {
    let entry = await this.options.store.get<Entry>(entryKey(incoming.threadKey));
    if (!entry && incoming.replyTo) entry = await this.options.store.get<TeamSide>(refKey(incoming.replyTo));
    if (!entry) return reply.text(SAY.nothingToEnd);
    if (entry.side === 'customer') {
      if (!incoming.sender.isAdmin) return reply.text(SAY.resumeAdminOnly);
      const ended = await this.end(entry.threadKey, { by: incoming.sender.name ?? 'an admin', customerReply: reply });
      if (!ended) await reply.text(SAY.nothingToEnd);
      return;
    }
    if (entry.customerThread === null) return reply.text(SAY.notOurs);
    const ended = await this.end(entry.customerThread, { by: incoming.sender.name ?? 'a team member', teamReply: reply });
    if (!ended) await reply.text(SAY.alreadyEnded);
  }

  // --- webhooks ---

  /** Acts on an Asyntai webhook (`escalation.requested`, `takeover.started`); others are ignored. */
  async onEvent(event: AsyntaiEvent): Promise<void> {
    const log = this.options.logger.child({ event: event.event, session: event.sessionId });
    if (event.event === 'escalation.requested') await this.escalated(event);
    else if (event.event === 'takeover.started') await this.takenOver(event);
    else log.debug('handoff: webhook event not acted on');
  }

  private async escalated(event: AsyntaiEvent): Promise<void> {
    const threadKey = await this.options.sessions.threadOf(event.sessionId);
    if (!threadKey) {
      await this.alertOnly(event);
      return;
    }
    await this.begin({
      threadKey,
      sessionId: event.sessionId,
      customer: undefined,
      question: event.message,
      reason: event.reason,
      notify: (markdown) => this.postToCustomer(threadKey, markdown),
      already: () => Promise.resolve(),
    });
  }

  /** A session the bridge did not make (the website widget, another channel): the alert alone. */
  private async alertOnly(event: AsyntaiEvent): Promise<void> {
    const channel = this.options.teamChannel;
    if (!channel) return;
    const alert = [
      '**Someone asked for a person** in a conversation outside this bridge',
      `Asyntai session: \`${event.sessionId}\``,
      ...(event.message ? [`Last question: ${quote(event.message)}`] : []),
      ...(event.reason ? [`Reason: ${event.reason}`] : []),
      'Answer it in the Asyntai dashboard.',
    ].join('\n');
    const team: TeamSide = { side: 'team', customerThread: null, sessionId: event.sessionId };
    await this.openTeamThread(channel, alert, team);
  }

  private async takenOver(event: AsyntaiEvent): Promise<void> {
    const threadKey = await this.options.sessions.threadOf(event.sessionId);
    if (!threadKey) {
      this.options.logger.debug({ session: event.sessionId }, 'handoff: takeover of a session the bridge did not make');
      return;
    }
    const now = Date.now();
    const since = event.timestamp && !Number.isNaN(Date.parse(event.timestamp)) ? Date.parse(event.timestamp) : now;
    const record = await this.locked(threadKey, async () => {
      const existing = await this.options.store.get<CustomerSide>(entryKey(threadKey));
      const next: CustomerSide = {
        ...(existing ?? { side: 'customer', threadKey, startedAt: now }),
        sessionId: event.sessionId,
        mode: 'dashboard',
        takenAt: since,
        takenBy: 'the Asyntai dashboard',
        lastTeamAt: now,
      };
      await this.save(next);
      return next;
    });
    await this.postToCustomer(threadKey, SAY.dashboardJoined).catch((err: unknown) =>
      this.options.logger.warn({ err, thread: threadKey }, 'handoff: could not tell the customer about the takeover'),
    );
    if (record.teamThread) {
      await this.postToTeam(threadKey, record.teamThread, 'Taken over in the Asyntai dashboard: what the agent writes there is relayed to the customer.').catch(
        (err: unknown) => this.options.logger.warn({ err, thread: threadKey }, 'handoff: could not tell the team about the takeover'),
      );
    }
  }

  // --- starting, taking over, ending ---

  private async begin(start: {
    threadKey: string;
    sessionId: string | undefined;
    customer: string | undefined;
    question: string | undefined;
    reason: string | undefined;
    notify: (markdown: string) => Promise<void>;
    already: () => Promise<void>;
  }): Promise<void> {
    const { threadKey } = start;
    const channel = this.options.teamChannel;
    const began = await this.locked(threadKey, async () => {
      if (await this.options.store.get<CustomerSide>(entryKey(threadKey))) return false;
      const now = Date.now();
      const record: CustomerSide = {
        side: 'customer',
        threadKey,
        sessionId: start.sessionId,
        customer: start.customer,
        mode: 'waiting',
        startedAt: now,
        lastTeamAt: now,
      };
      if (channel) {
        const alert = [
          '**A customer asked for a person**',
          `Platform: ${platformOf(threadKey)} · conversation \`${threadKey}\``,
          `Customer: ${start.customer ?? 'unknown (not said yet)'}`,
          `Last question: ${start.question ? quote(start.question) : '(none yet)'}`,
          ...(start.reason ? [`Reason: ${start.reason}`] : []),
          'Reply to this alert to take over: your replies go to the customer until /resume. Until then the assistant answers, and each exchange is copied here.',
        ].join('\n');
        try {
          record.teamThread = await this.openTeamThread(channel, alert, { side: 'team', customerThread: threadKey, sessionId: start.sessionId });
        } catch (err) {
          this.options.logger.error({ err, channel }, 'handoff: could not post the alert in TEAM_CHANNEL');
          return undefined;
        }
      }
      await this.save(record);
      return true;
    });
    if (began === undefined) return start.notify(SAY.teamUnreachable);
    if (!began) return start.already();
    this.options.logger.info({ thread: threadKey, session: start.sessionId }, 'handoff requested');
    await start.notify(SAY.asked);
  }

  /** A message in a team thread: a takeover, a relay to the customer, or a note that it ended. */
  private async fromTeam(team: TeamSide, incoming: Incoming, reply: Reply, text: string): Promise<void> {
    if (team.customerThread === null) return reply.text(SAY.notOurs);
    const customerThread = team.customerThread;
    const name = incoming.sender.name;
    const outcome = await this.locked(customerThread, async () => {
      const record = await this.options.store.get<CustomerSide>(entryKey(customerThread));
      if (!record) return undefined;
      const takeover = record.mode === 'waiting';
      const next: CustomerSide = takeover
        ? { ...record, mode: 'person', takenAt: Date.now(), takenBy: name ?? 'a team member', lastTeamAt: Date.now() }
        : { ...record, lastTeamAt: Date.now() };
      await this.save(next);
      return { record: next, takeover };
    });
    if (!outcome) return reply.text(SAY.alreadyEnded);
    const { record, takeover } = outcome;
    if (takeover) {
      this.options.logger.info({ thread: customerThread }, 'handoff: a team member took over');
      const warn = (err: unknown) => this.options.logger.warn({ err, thread: customerThread }, 'handoff: could not announce a takeover');
      await this.postToCustomer(customerThread, SAY.joined(name)).catch(warn);
      if (record.teamThread) {
        const who = record.customer ?? 'the customer';
        const note = `${name ?? 'A team member'} took over: ${who}'s messages now come here instead of to the assistant. /resume hands the conversation back.`;
        await this.postToTeam(customerThread, record.teamThread, note).catch(warn);
      }
    }
    // Platforms that give no display name still show the customer that a person writes.
    const signature = name ? `${name} (support)` : 'Support';
    try {
      if (text !== '') await this.postToCustomer(customerThread, `${signature}: ${text}`);
      for (const attachment of incoming.attachments) {
        await this.relayFile(attachment, customerThread, signature, {
          file: (file) => this.postFileToCustomer(customerThread, file),
          text: (markdown) => this.postToCustomer(customerThread, markdown),
        });
      }
    } catch (err) {
      this.options.logger.warn({ err, thread: customerThread }, 'handoff: could not relay a team message to the customer');
      await reply.text(SAY.notDelivered);
    }
  }

  /** Ends the handoff of `threadKey` and tells both sides; false when there was none (or another instance ended it). */
  private async end(threadKey: string, how: { by?: string; idleMinutes?: number; customerReply?: Reply; teamReply?: Reply }): Promise<boolean> {
    const record = await this.locked(threadKey, async () => {
      const found = await this.options.store.get<CustomerSide>(entryKey(threadKey));
      // delete() is the claim: of two instances ending it at once, one tells the sides.
      if (!found || !(await this.options.store.delete(entryKey(threadKey)))) return undefined;
      await this.options.store.delete(activeKey(threadKey));
      return found;
    });
    this.active.delete(threadKey);
    this.asking.delete(threadKey);
    if (!record) return false;
    this.options.logger.info({ thread: threadKey, by: how.by, idle: how.idleMinutes !== undefined }, 'handoff ended');
    const idle = how.idleMinutes !== undefined;
    const toCustomer = record.mode === 'waiting' ? (idle ? SAY.nobodyCame : SAY.back) : idle ? SAY.backAfterIdle : SAY.back;
    await (how.customerReply ? how.customerReply.text(toCustomer) : this.postToCustomer(threadKey, toCustomer)).catch((err: unknown) =>
      this.options.logger.warn({ err, thread: threadKey }, 'handoff: could not tell the customer it ended'),
    );
    const why = how.idleMinutes !== undefined ? `after ${formatMinutes(how.idleMinutes)} without a message from the team` : `by ${how.by ?? 'someone'}`;
    const toTeam = `Handoff ended ${why}: the assistant answers ${record.customer ?? 'the customer'} again.`;
    if (how.teamReply) await how.teamReply.text(toTeam);
    else if (record.teamThread) {
      await this.postToTeam(threadKey, record.teamThread, toTeam).catch((err: unknown) =>
        this.options.logger.warn({ err, thread: threadKey }, 'handoff: could not tell the team it ended'),
      );
    }
    return true;
  }

  // --- timers ---

  private tick(): Promise<void> {
    this.ticking ??= this.checkAll()
      .catch((err: unknown) => this.options.logger.warn({ err }, 'handoff: timer work failed'))
      .finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  /** Ends idle handoffs and polls dashboard takeovers. */
  private async checkAll(): Promise<void> {
    for (const threadKey of [...this.active]) {
      try {
        const record = await this.options.store.get<CustomerSide>(entryKey(threadKey));
        if (!record) {
          // Ended (here or elsewhere); a marker left by a crash in between goes too.
          this.active.delete(threadKey);
          await this.options.store.delete(activeKey(threadKey));
          continue;
        }
        const idle = Date.now() - record.lastTeamAt;
        if (idle >= this.idleMs) await this.end(threadKey, { idleMinutes: idle / 60_000 });
        else if (record.mode === 'dashboard') await this.poll(record);
      } catch (err) {
        // One handoff's failure (the API or a platform out of reach) must not hold up the others.
        this.options.logger.warn({ err, thread: threadKey }, 'handoff: timer work failed; retried next time');
      }
    }
  }

  /**
   * Relays, exactly once, each message of a dashboard takeover that is not the visitor's, is
   * dated after the takeover began and is not an answer the bridge delivered itself.
   */
  private async poll(record: CustomerSide): Promise<void> {
    const { threadKey, sessionId, takenAt = record.startedAt } = record;
    if (!sessionId) return;
    const askedAt = this.asking.get(threadKey);
    if (askedAt !== undefined && Date.now() - askedAt < ASKING_HOLD_MS) return;
    // One instance polls a thread per interval; the others would only find nothing new.
    if (!(await this.options.store.setIfNotExists(`handoff-poll:${threadKey}`, 1, Math.max(1, this.pollMs - 50)))) return;
    const messages = await this.options.client.conversation(sessionId, { limit: POLL_LIMIT });
    let relayed = false;
    for (const message of messages) {
      const at = Date.parse(message.timestamp);
      if (message.role === 'user' || message.content.trim() === '' || !(at >= takenAt)) continue;
      if (await this.options.store.get(`handoff-mine:${sessionId}:${digest(message.content)}`)) continue;
      const id = digest(`${message.role}\n${message.timestamp}\n${message.content}`);
      if (!(await this.options.store.setIfNotExists(`handoff-seen:${sessionId}:${id}`, 1, SEEN_TTL_MS))) continue;
      await this.postToCustomer(threadKey, message.content);
      relayed = true;
    }
    if (relayed) await this.update(threadKey, (e) => ({ ...e, lastTeamAt: Date.now() }));
  }

  /** Adds the handoffs in the store (other instances', or from before a restart) to the timers. */
  private async scan(): Promise<void> {
    try {
      for (const key of await this.options.store.keys(ACTIVE_PREFIX)) this.active.add(key.slice(ACTIVE_PREFIX.length));
    } catch (err) {
      this.options.logger.warn({ err }, 'handoff: could not scan the store for handoffs');
    }
  }

  // --- store and platforms ---

  private async save(record: CustomerSide): Promise<void> {
    await this.options.store.set(entryKey(record.threadKey), record);
    await this.options.store.set(activeKey(record.threadKey), 1);
    this.active.add(record.threadKey);
  }

  /** Changes the customer entry under this process's lock, from a fresh read; nothing when it ended. */
  private update(threadKey: string, change: (entry: CustomerSide) => CustomerSide): Promise<void> {
    return this.locked(threadKey, async () => {
      const record = await this.options.store.get<CustomerSide>(entryKey(threadKey));
      if (record) await this.options.store.set(entryKey(threadKey), change(record));
    });
  }

  /** Runs `work` after earlier work on the same thread in this process has finished. */
  private async locked<T>(threadKey: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(threadKey) ?? Promise.resolve();
    let release!: () => void;
    const mine = previous.then(() => new Promise<void>((resolve) => (release = resolve)));
    this.locks.set(threadKey, mine);
    await previous;
    const running = work();
    this.work.add(running);
    try {
      return await running;
    } finally {
      this.work.delete(running);
      release();
      if (this.locks.get(threadKey) === mine) this.locks.delete(threadKey);
    }
  }

  /**
   * Posts an alert in the team channel and records where replies to it will come from: the thread
   * the adapter opened (`openThread`), or the references of the messages it posted. Resolves with
   * the team thread later posts go to.
   */
  private async openTeamThread(channel: string, alert: string, team: TeamSide): Promise<string> {
    const adapter = this.adapterFor(channel);
    if (adapter.openThread) {
      const teamThread = await adapter.openThread(channel, alert);
      await this.options.store.set(entryKey(teamThread), team, TEAM_TTL_MS);
      return teamThread;
    }
    const references = await adapter.send(channel, alert);
    await this.remember(references, team);
    // Later posts reply to the alert where the platform threads by reply.
    return Array.isArray(references) && references[0] !== undefined ? references[0] : channel;
  }

  /** Posts into the team thread; the references of what was posted lead replies back here. */
  private async postToTeam(customerThread: string, teamThread: string, markdown: string): Promise<void> {
    const references = await this.adapterFor(teamThread).send(teamThread, markdown);
    await this.remember(references, { side: 'team', customerThread });
  }

  /** Posts a file into the team thread; like `postToTeam`, replies to it lead back here. */
  private async postFileToTeam(customerThread: string, teamThread: string, file: OutgoingFile): Promise<void> {
    const references = await this.adapterFor(teamThread).sendFile!(teamThread, file);
    await this.remember(references, { side: 'team', customerThread });
  }

  /**
   * Posts a file to the customer. The outbox keeps text only: while it holds answers for the
   * thread, a file posted now would overtake them, so it refuses and the caller says so in text
   * (which queues behind them).
   */
  private async postFileToCustomer(threadKey: string, file: OutgoingFile): Promise<void> {
    if (this.options.outbox?.holds(threadKey)) throw new Error('answers are waiting in the outbox for this thread');
    await this.adapterFor(threadKey).sendFile!(threadKey, file);
  }

  /**
   * Passes one file of a relayed message to the other side with `post.file` (captioned "<from>
   * sent a file"), or, where the target platform takes no files, the file is too large or cannot
   * be fetched, or the post fails, says in text that a file was sent that could not be passed on,
   * so nothing vanishes silently. Rejects only when that text cannot be posted either.
   */
  private async relayFile(
    attachment: Attachment,
    target: string,
    from: string,
    post: { file: (file: OutgoingFile) => Promise<void>; text: (markdown: string) => Promise<void> },
  ): Promise<void> {
    const log = this.options.logger.child({ thread: target, file: attachment.name, size: attachment.size });
    const data = this.adapterFor(target).sendFile ? await this.fetchFile(attachment) : undefined;
    let size = attachment.size;
    if (data) {
      size = data.length;
      const file: OutgoingFile = {
        name: attachment.name,
        contentType: attachment.contentType ?? 'application/octet-stream',
        data,
        caption: `${from} sent a file`,
      };
      try {
        await post.file(file);
        return;
      } catch (err) {
        log.warn({ err }, 'handoff: could not pass a file on; said so in text');
      }
    }
    const about = size === undefined ? attachment.name : `${attachment.name}, ${formatBytes(size)}`;
    await post.text(`${from} sent a file that could not be passed on (${about}).`);
  }

  /** The file's bytes; undefined when it is over the limit (by its declared size or once fetched) or cannot be fetched. */
  private async fetchFile(attachment: Attachment): Promise<Buffer | undefined> {
    if (attachment.size !== undefined && attachment.size > MAX_RELAY_FILE_BYTES) return undefined;
    try {
      const data = await attachment.download();
      return data.length > MAX_RELAY_FILE_BYTES ? undefined : data;
    } catch (err) {
      this.options.logger.warn({ err, file: attachment.name }, 'handoff: could not download a file to pass on');
      return undefined;
    }
  }

  private async remember(references: void | string[], team: TeamSide): Promise<void> {
    if (!Array.isArray(references)) return;
    for (const reference of references) await this.options.store.set(refKey(reference), team, TEAM_TTL_MS);
  }

  /** Posts to the customer; kept in the outbox when the platform will not take it now. */
  private async postToCustomer(threadKey: string, markdown: string): Promise<void> {
    const { outbox } = this.options;
    if (!outbox?.holds(threadKey)) {
      try {
        await this.adapterFor(threadKey).send(threadKey, markdown);
        return;
      } catch (err) {
        if (!outbox) throw err;
        this.options.logger.warn({ err, thread: threadKey }, 'handoff: the platform would not take a relay; kept for later delivery');
      }
    }
    await outbox.keep(platformOf(threadKey), threadKey, markdown);
    void outbox.flush();
  }

  private adapterFor(threadKey: string): Adapter {
    const adapter = this.adapters.get(platformOf(threadKey));
    if (!adapter) throw new Error(`no ${platformOf(threadKey)} adapter runs here to post into ${threadKey}`);
    return adapter;
  }

  /** The visitor's last message in the session, for the alert; undefined when it cannot be read. */
  private async lastQuestion(sessionId: string): Promise<string | undefined> {
    try {
      const messages = await this.options.client.conversation(sessionId, { limit: 20 });
      return messages.findLast((m) => m.role === 'user')?.content;
    } catch (err) {
      this.options.logger.debug({ err }, 'handoff: could not read the last question');
      return undefined;
    }
  }
}

/** The platform a thread key or channel address belongs to: its prefix. */
function platformOf(threadKey: string): PlatformName {
  return threadKey.slice(0, threadKey.indexOf(':')) as PlatformName;
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

/** A customer's words in an alert: one line, shortened, in quotes. */
function quote(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return `"${flat.length > 300 ? `${flat.slice(0, 299)}…` : flat}"`;
}

/** A file size as people read it: `512 bytes`, `12 kB`, `10.5 MB`. */
function formatBytes(bytes: number): string {
  if (bytes < 1_000) return `${bytes} bytes`;
  if (bytes < 1_000_000) return `${Math.round(bytes / 1_000)} kB`;
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

function formatMinutes(minutes: number): string {
  if (minutes < 1) return `${Math.max(1, Math.round(minutes * 60))} seconds`;
  const whole = Math.round(minutes);
  return `${whole} minute${whole === 1 ? '' : 's'}`;
}
