/**
 * Telegram through grammY. Long polling by default (@grammyjs/runner, updates handled
 * concurrently); webhook mode when TELEGRAM_WEBHOOK_URL is set, answering Telegram at once and
 * working afterwards. Telegram's 429 and 5xx are retried by @grammyjs/auto-retry.
 *
 * Order within a thread comes from the core's bounded per-thread queue, not from the runner's
 * `sequentialize`: the message reaches `Bridge.handle` synchronously, in update order, and a
 * flooded thread is told to wait instead of holding runner slots that other chats need.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent as HttpAgent, type IncomingMessage, type ServerResponse } from 'node:http';
import { autoRetry } from '@grammyjs/auto-retry';
import { run, type RunnerHandle } from '@grammyjs/runner';
import { Bot, GrammyError, HttpError, InputFile, type Context } from 'grammy';
import type { BotCommand, Message, MessageEntity, Update } from 'grammy/types';
import { request } from 'undici';
import { ConfigError, type Config } from '../../src/config.js';
import { COMMANDS, type Adapter, type Attachment, type BridgePort, type CommandDefinition, type Incoming, type OutgoingFile, type Reply } from '../../src/core/index.js';
import { readBody, type HttpServer } from '../../src/http/server.js';
import type { Logger } from '../../src/log.js';
import { TELEGRAM_TEXT_LIMIT, telegramChunks } from './telegram-html.js';

/** Telegram's limit on one message's text (kept with the renderer, which splits under it). */
export { TELEGRAM_TEXT_LIMIT };
const DEFAULT_API_ROOT = 'https://api.telegram.org';

export interface TelegramAdapterDeps {
  config: Pick<Config, 'telegram'>;
  logger: Logger;
  /** Needed in webhook mode, to receive updates. */
  http: HttpServer | undefined;
  /** Delays between start-up attempts while Telegram cannot be reached; default 2 s doubling to 60 s. */
  connectRetry?: { firstDelayMs: number; maxDelayMs: number };
}

/**
 * Where `send` and `sendFile` post for a thread key (`telegram:<chat>`, `…:u<user>`, `…:t<topic>`)
 * or a message reference (`…:m<id>`, as they return: the post replies to that message).
 */
function decodeThreadKey(threadKey: string): { chatId: number; thread: { message_thread_id?: number }; replyTo: number | undefined } {
  const match = /^telegram:(-?\d+)(?::(?:u\d+|t(\d+)|m(\d+)))?$/.exec(threadKey);
  if (!match) throw new Error(`not a Telegram thread key: ${threadKey}`);
  return {
    chatId: Number(match[1]),
    thread: match[2] === undefined ? {} : { message_thread_id: Number(match[2]) },
    replyTo: match[3] === undefined ? undefined : Number(match[3]),
  };
}

/** The conversation a message belongs to: one Asyntai session each (README "Telegram"). */
function threadKeyOf(message: Pick<Message, 'chat' | 'from' | 'message_thread_id' | 'is_topic_message'>): string {
  const chat = message.chat.id;
  if (message.chat.type === 'private') return `telegram:${chat}`;
  if (message.is_topic_message && message.message_thread_id !== undefined) return `telegram:${chat}:t${message.message_thread_id}`;
  return `telegram:${chat}:u${message.from?.id ?? 'anon'}`;
}

export class TelegramAdapter implements Adapter {
  readonly platform = 'telegram' as const;
  readonly bot: Bot;
  private readonly apiRoot: string;
  private readonly token: string;
  private runner: RunnerHandle | undefined;
  private webhookReady = false;
  private bridge: BridgePort | undefined;
  /** Background handling of webhook updates, awaited on stop. */
  private readonly inFlight = new Set<Promise<void>>();
  /** Ends a start-up still waiting to reach Telegram. */
  private readonly stopping = new AbortController();
  /**
   * The last getUpdates failed (Telegram out of reach) and the runner waits to retry: /healthz says
   * down. Cleared when an attempt starts, since a long poll that reached Telegram is held open.
   */
  private pollFailing = false;
  private readonly httpAgent: HttpAgent | undefined;

  constructor(private readonly deps: TelegramAdapterDeps) {
    const { token, apiRoot } = deps.config.telegram;
    if (!token) throw new Error('TELEGRAM_BOT_TOKEN is required');
    this.token = token;
    this.apiRoot = apiRoot ?? DEFAULT_API_ROOT;
    // grammY keeps https connections alive by itself, but opens a new connection per call on an
    // http API root (a local Bot API server): one agent for the bot, closed on stop.
    this.httpAgent = this.apiRoot.startsWith('http:') ? new HttpAgent({ keepAlive: true }) : undefined;
    this.bot = new Bot(token, { client: { apiRoot: this.apiRoot, ...(this.httpAgent ? { baseFetchConfig: { agent: this.httpAgent } } : {}) } });
    // The runner runs silent (no console); failures of any call, polling included, reach our log.
    // Installed first, so it sits inside auto-retry (the last transformer installed is the
    // outermost) and logs every attempt, not only the last.
    this.bot.api.config.use(async (prev, method, payload, signal) => {
      if (method === 'getUpdates') this.pollFailing = false;
      try {
        const res = await prev(method, payload, signal);
        if (method === 'getUpdates') this.pollFailing = !res.ok;
        if (!res.ok) deps.logger.warn({ method, code: res.error_code, description: res.description }, 'Telegram refused a call');
        return res;
      } catch (err) {
        if (method === 'getUpdates' && !signal?.aborted) this.pollFailing = true;
        if (!signal?.aborted) deps.logger.warn({ method, err }, 'Telegram call failed');
        throw err;
      }
    });
    // Flood waits and Telegram's own 5xx: wait and retry instead of losing the answer. Network
    // errors are rethrown: auto-retry would retry them forever, silently, with waits growing to an
    // hour; start-up and polling retry them instead, capped, each attempt in the log.
    this.bot.api.config.use(autoRetry({ maxRetryAttempts: 3, maxDelaySeconds: 60, rethrowHttpErrors: true }));
    this.bot.on('message', (ctx) => this.onMessage(ctx));
    this.bot.catch((err) => deps.logger.error({ err: err.error, update: err.ctx.update.update_id }, 'Telegram handler failed'));
  }

  /**
   * Connects (getMe, commands, webhook or polling). Telegram out of reach is logged and retried,
   * at most a minute apart, until it answers or `stop` is called; only a refused token (401)
   * stops start-up.
   */
  async start(bridge: BridgePort): Promise<void> {
    this.bridge = bridge;
    const { firstDelayMs, maxDelayMs } = this.deps.connectRetry ?? { firstDelayMs: 2_000, maxDelayMs: 60_000 };
    for (let delayMs = firstDelayMs; ; delayMs = Math.min(maxDelayMs, delayMs * 2)) {
      try {
        await this.connect();
        break;
      } catch (err) {
        // A revoked or mistyped token is a configuration problem: say so in one line.
        if (err instanceof GrammyError && err.error_code === 401) throw new ConfigError('TELEGRAM_BOT_TOKEN', 'Telegram refused the token (401 Unauthorized)');
        if (this.stopping.signal.aborted) return;
        this.deps.logger.warn({ reason: describeFailure(err), retryInSeconds: delayMs / 1000 }, 'cannot reach Telegram at start-up; retrying');
        await sleep(delayMs, undefined, { signal: this.stopping.signal }).catch(() => {});
        if (this.stopping.signal.aborted) return;
      }
    }
    if (this.deps.config.telegram.webhookUrl) return;
    // Polling errors (Telegram out of reach) are retried every few seconds, without end, each in the log.
    this.runner = run(this.bot, { runner: { silent: true, fetch: { allowed_updates: ['message'] }, retryInterval: 5_000, maxRetryTime: Infinity } });
    // 401 (token revoked) and 409 (another poller) end the runner: say so, health goes down.
    void this.runner.task()?.catch((err: unknown) => this.deps.logger.error({ err }, 'Telegram polling stopped'));
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    if (this.runner?.isRunning()) await this.runner.stop();
    await Promise.allSettled([...this.inFlight]);
    this.httpAgent?.destroy();
  }

  isHealthy(): boolean {
    return this.webhookReady || ((this.runner?.isRunning() ?? false) && !this.pollFailing);
  }

  /** Stops taking updates (polling ends; the webhook route is the HTTP server's to refuse); sending still works. */
  async stopReceiving(): Promise<void> {
    if (this.runner?.isRunning()) await this.runner.stop();
  }

  /**
   * Posts into a conversation by its thread key (`telegram:<chat>`, `…:u<user>`, `…:t<topic>`),
   * outside a request: handoff relays, alerts, kept answers.
   */
  async send(threadKey: string, markdown: string): Promise<string[]> {
    const { chatId, thread, replyTo } = decodeThreadKey(threadKey);
    const ids = await this.postText(chatId, thread, replyTo, markdown);
    // References to what was posted: human handoff recognises replies to them (Incoming.replyTo).
    return ids.map((id) => `telegram:${chatId}:m${id}`);
  }

  /**
   * Posts a document (sendDocument) into a conversation by its thread key or message reference,
   * as `send` does, outside a request: files relayed in a human handoff. Resolves with the
   * reference of the message posted.
   */
  async sendFile(threadKey: string, file: OutgoingFile): Promise<string[]> {
    const { chatId, thread, replyTo } = decodeThreadKey(threadKey);
    const posted = await this.bot.api.sendDocument(chatId, new InputFile(file.data, file.name), {
      ...thread,
      ...(file.caption ? { caption: file.caption } : {}),
      ...(replyTo === undefined ? {} : { reply_parameters: { message_id: replyTo, allow_sending_without_reply: true } }),
    });
    return [`telegram:${chatId}:m${posted.message_id}`];
  }

  /** One attempt at everything start-up asks of Telegram before updates can flow. */
  private async connect(): Promise<void> {
    // getMe directly rather than bot.init(), which retries network errors itself, unlogged, with
    // waits growing to twenty minutes.
    if (!this.bot.isInited()) this.bot.botInfo = await this.bot.api.getMe();
    await this.registerCommands();
    const { webhookUrl } = this.deps.config.telegram;
    if (webhookUrl) await this.startWebhook(webhookUrl);
    else await this.bot.api.deleteWebhook();
  }

  /** Public commands for everyone; the full list in each admin's private chat. */
  private async registerCommands(): Promise<void> {
    const toBotCommands = (list: readonly CommandDefinition[]): BotCommand[] =>
      list.map((c) => ({ command: c.name.replace(/-/g, '_'), description: c.description.slice(0, 256) }));
    await this.bot.api.setMyCommands(toBotCommands(COMMANDS.filter((c) => !c.adminOnly)));
    for (const id of this.deps.config.telegram.adminIds) {
      // Fails while the admin has never opened a chat with the bot; that must not stop start-up.
      await this.bot.api
        .setMyCommands(toBotCommands(COMMANDS), { scope: { type: 'chat', chat_id: Number(id) } })
        .catch((err: unknown) => this.deps.logger.warn({ err, admin: id }, 'could not set admin commands (has the admin started the bot?)'));
    }
  }

  private async startWebhook(webhookUrl: string): Promise<void> {
    const http = this.deps.http;
    if (!http) throw new Error('Telegram webhook mode needs the HTTP server');
    // Stable across instances and restarts, and never the token itself.
    const secret = this.deps.config.telegram.webhookSecret ?? createHash('sha256').update(`webhook:${this.token}`).digest('hex').slice(0, 48);
    // Telegram posts to the URL as given; behind a proxy, the path must reach this server unchanged.
    http.mount('POST', new URL(webhookUrl).pathname, (req, res) => this.onWebhook(req, res, secret));
    await this.bot.api.setWebhook(webhookUrl, { secret_token: secret, allowed_updates: ['message'] });
    this.webhookReady = true;
  }

  /** Checks the secret, answers 200 at once, then handles the update in the background. */
  private async onWebhook(req: IncomingMessage, res: ServerResponse, secret: string): Promise<void> {
    const given = req.headers['x-telegram-bot-api-secret-token'];
    if (typeof given !== 'string' || !safeEqual(given, secret)) {
      res.writeHead(401).end();
      return;
    }
    const body = await readBody(req); // an oversized body is the server's 413
    let update: unknown;
    try {
      update = JSON.parse(body.toString('utf8'));
    } catch {
      update = undefined;
    }
    // Telegram only posts objects; anything else (or not JSON) is refused before grammY sees it.
    if (typeof update !== 'object' || update === null) {
      res.writeHead(400).end();
      return;
    }
    res.writeHead(200).end();
    const work = this.bot.handleUpdate(update as Update).catch((err: unknown) => this.deps.logger.error({ err }, 'Telegram update failed'));
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  private async onMessage(ctx: Context): Promise<void> {
    const message = ctx.message;
    if (!message || !this.bridge) return;
    let incoming: Incoming | undefined;
    try {
      incoming = this.toIncoming(message, ctx.update.update_id);
    } catch (err) {
      // Only a message outside the Bot API's types gets here (the webhook takes any JSON object).
      this.deps.logger.warn({ err, update: ctx.update.update_id }, 'Telegram message not understood; ignored');
      return;
    }
    if (incoming) await this.bridge.handle(incoming, this.replyTo(message));
  }

  /** Normalises a message, or undefined when the bot should stay silent. */
  private toIncoming(message: Message, updateId: number): Incoming | undefined {
    const from = message.from;
    if (!from || from.is_bot || message.sender_chat) return undefined;
    // A document or photo without a caption is still a message: human handoff passes it on.
    const text = message.text ?? message.caption ?? (message.document || message.photo ? '' : undefined);
    if (typeof text !== 'string') return undefined; // stickers, other media without caption, service messages
    const entities = message.entities ?? message.caption_entities ?? [];
    const me = this.bot.botInfo;
    const isPrivate = message.chat.type === 'private';

    const command = parseCommand(text, entities, me.username);
    if (command === 'other-bot') return undefined;
    let question = text;
    const repliesToBot =
      message.reply_to_message?.from?.id === me.id &&
      // In a forum topic every message "replies" to the topic's creation message.
      !(message.is_topic_message && message.reply_to_message.message_id === message.message_thread_id);
    if (!command && !isPrivate) {
      const mention = findMention(text, entities, me.username, me.id);
      if (!mention && !repliesToBot) return undefined;
      if (mention) question = (text.slice(0, mention.offset) + text.slice(mention.offset + mention.length)).replace(/\s+/g, ' ').trim();
    }

    const admins = this.deps.config.telegram.adminIds;
    // A command may name the document it replies to (`/kb_upload` as a reply); other messages carry
    // only their own, so a reply to a document the bot relayed does not send it back.
    const document = message.document ?? (command ? message.reply_to_message?.document : undefined);
    // A photo comes in several sizes, the largest last; it has no file name or type of its own.
    const photo = message.photo?.at(-1);
    const file = document ?? (photo ? { ...photo, file_name: 'photo.jpg', mime_type: 'image/jpeg' } : undefined);
    return {
      platform: 'telegram',
      threadKey: threadKeyOf(message),
      spaceKey: `telegram:${message.chat.id}`,
      // update_id is unique per bot only: several bots may share one store.
      dedupeKey: `${me.id}:${updateId}`,
      sender: { id: String(from.id), name: from.username ?? from.first_name, isAdmin: admins.has(String(from.id)) },
      text: question,
      ...(command ? { command } : {}),
      attachments: file ? [this.attachment(file)] : [],
      isPrivate,
      // The same reference send() returned for that message: a reply to a handoff alert finds it.
      ...(repliesToBot ? { replyTo: `telegram:${message.chat.id}:m${message.reply_to_message!.message_id}` } : {}),
    };
  }

  private attachment(document: { file_id: string; file_name?: string; mime_type?: string; file_size?: number }): Attachment {
    return {
      name: document.file_name ?? 'file',
      ...(document.mime_type ? { contentType: document.mime_type } : {}),
      ...(document.file_size !== undefined ? { size: document.file_size } : {}),
      download: async () => {
        const file = await this.bot.api.getFile(document.file_id);
        if (!file.file_path) throw new Error('Telegram returned no file_path');
        const res = await request(`${this.apiRoot}/file/bot${this.token}/${file.file_path}`);
        if (res.statusCode !== 200) {
          await res.body.dump();
          throw new Error(`file download failed with HTTP ${res.statusCode}`);
        }
        return Buffer.from(await res.body.arrayBuffer());
      },
    };
  }

  /** Answers go to the same chat and topic; in groups the first chunk replies to the question. */
  private replyTo(message: Message): Reply {
    const topic = message.is_topic_message ? message.message_thread_id : undefined;
    return this.replyInto(message.chat.id, topic, message.chat.type === 'private' ? undefined : message.message_id);
  }

  /**
   * Posts markdown as HTML chunks in order, the first replying to `replyTo` when given; resolves
   * with the ids of the messages posted.
   */
  private async postText(chatId: number, thread: { message_thread_id?: number }, replyTo: number | undefined, markdown: string): Promise<number[]> {
    const ids: number[] = [];
    let target = replyTo;
    for (const chunk of telegramChunks(markdown)) {
      const base = {
        ...thread,
        link_preview_options: { is_disabled: true },
        ...(target === undefined ? {} : { reply_parameters: { message_id: target, allow_sending_without_reply: true } }),
      };
      target = undefined;
      try {
        ids.push((await this.bot.api.sendMessage(chatId, chunk.html, { ...base, parse_mode: 'HTML' })).message_id);
      } catch (err) {
        // Model-written text that still trips Telegram's parser goes out plain: never lost.
        if (!(err instanceof GrammyError && err.error_code === 400 && /can't parse entities/i.test(err.description))) throw err;
        this.deps.logger.warn({ description: err.description }, 'Telegram refused HTML; sent plain text');
        ids.push((await this.bot.api.sendMessage(chatId, chunk.plain, base)).message_id);
      }
    }
    return ids;
  }

  /** A Reply into a chat (and forum topic); the first chunk replies to `replyTo` when given. */
  private replyInto(chatId: number, topic: number | undefined, firstReplyTo: number | undefined): Reply {
    const thread = topic === undefined ? {} : { message_thread_id: topic };
    let replyTo = firstReplyTo;
    const api = this.bot.api;
    return {
      text: async (markdown) => {
        const first = replyTo;
        replyTo = undefined;
        await this.postText(chatId, thread, first, markdown);
      },
      file: async (file) => {
        await api.sendDocument(chatId, new InputFile(file.data, file.name), { ...thread, ...(file.caption ? { caption: file.caption } : {}) });
      },
      typing: async () => {
        await api.sendChatAction(chatId, 'typing', thread);
      },
    };
  }
}

/**
 * The command at the start of the message, if any: `/kb_add@thisbot args` → {kb_add, args}.
 * 'other-bot' when it is addressed to another bot (groups may have several).
 */
function parseCommand(text: string, entities: readonly MessageEntity[], username: string): { name: string; args: string } | 'other-bot' | undefined {
  const entity = entities.find((e) => e.type === 'bot_command' && e.offset === 0);
  if (!entity) return undefined;
  const [name = '', target] = text.slice(1, entity.length).split('@');
  if (target && target.toLowerCase() !== username.toLowerCase()) return 'other-bot';
  const lower = name.toLowerCase();
  return { name: lower === 'start' ? 'help' : lower, args: text.slice(entity.length).trim() };
}

/** The entity that mentions this bot: `@username` or a text mention of its id. */
function findMention(text: string, entities: readonly MessageEntity[], username: string, botId: number): MessageEntity | undefined {
  return entities.find(
    (e) =>
      (e.type === 'mention' && text.slice(e.offset + 1, e.offset + e.length).toLowerCase() === username.toLowerCase()) ||
      (e.type === 'text_mention' && e.user.id === botId),
  );
}

/** Why a call failed, in a few words and without the request URL (which holds the token). */
function describeFailure(err: unknown): string {
  if (err instanceof GrammyError) return `Telegram answered ${err.error_code}: ${err.description}`;
  if (err instanceof HttpError) {
    const code = (err.error as { code?: unknown } | undefined)?.code;
    return `network error (${typeof code === 'string' ? code : 'no answer'})`;
  }
  return err instanceof Error ? err.message : String(err);
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
