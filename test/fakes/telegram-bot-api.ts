/**
 * A loopback fake of the Telegram Bot API for end-to-end tests through real grammY. It speaks the
 * wire protocol (`POST /bot<token>/<method>` with JSON, form or multipart bodies, answers
 * `{ok,result}` / `{ok:false,error_code,description,parameters}` with the same HTTP status),
 * queues injected updates for long polling or a webhook, records what the bot did, validates like
 * Telegram where our bugs would show (entities, lengths, command names, replies) and injects faults.
 */
import { createServer, request, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  BotCommand, BotCommandScope, Chat, Message, MessageEntity, ReplyParameters, ResponseParameters, Update, User,
  UserFromGetMe,
} from 'grammy/types';
import { parseTelegramHtml, TelegramHtmlError } from './telegram-html.js';

export { parseTelegramHtml, TelegramHtmlError, type ParsedHtml, type ParseHtmlOptions } from './telegram-html.js';

/** Options for {@link startFakeTelegram}. */
export interface FakeTelegramOptions {
  /** Default `<botId>:AAH-fake-token-for-tests`. */
  token?: string;
  /** Default `asyntai_test_bot`. */
  botUsername?: string;
  /** Default: the token's numeric prefix, else 7000000001. */
  botId?: number;
  /** The bot's first_name; default `Asyntai Test Bot`. */
  botName?: string;
  /**
   * Telegram's privacy mode, default on (as for a new bot): in groups only commands (bare or aimed at
   * this bot), mentions of the bot, replies to the bot and service messages reach it. Hidden ones go
   * to {@link FakeTelegram.hiddenByPrivacy}.
   */
  privacyMode?: boolean;
  /** See {@link ParseHtmlOptions.strict}; default true. */
  strictHtml?: boolean;
  /** Delay before every API answer. */
  latencyMs?: number;
  /** How long a webhook POST may take before it counts as failed; default 30 s. */
  webhookTimeoutMs?: number;
  /** Further attempts after a failed webhook delivery before the update is dropped; default 3. */
  webhookRetries?: number;
}

/** A chat id as the Bot API takes it: a number, or `@channelusername`. */
export type ChatId = number | string;

/** One Bot API call as the fake answered it. `params` are as sent (multipart values are strings). */
export interface RecordedCall {
  method: string;
  params: Record<string, unknown>;
  ok: boolean;
  result?: unknown;
  error_code?: number;
  description?: string;
  parameters?: ResponseParameters;
  /** Answered by {@link FakeTelegram.failNext}. */
  injected?: boolean;
  /** Sent as the body of a webhook answer rather than as a request. */
  viaWebhookReply?: boolean;
}

/** A message the bot sent successfully. */
export interface SentMessage {
  chat_id: ChatId;
  /** The `text` parameter as sent (HTML source when `parse_mode` is HTML). */
  text: string;
  /** What the user sees: entities parsed, whitespace trimmed. */
  visibleText: string;
  entities: MessageEntity[];
  parse_mode?: string;
  message_thread_id?: number;
  /** From `reply_parameters.message_id` or the legacy `reply_to_message_id`. */
  reply_to_message_id?: number;
  reply_parameters?: ReplyParameters;
  /** The Message returned to the bot (reply to it with `userSends({ reply_to_message })`). */
  message: Message;
  params: Record<string, unknown>;
}

/** A document the bot sent successfully. */
export interface SentDocument {
  chat_id: ChatId;
  filename: string;
  bytes: Buffer;
  mime_type: string;
  caption?: string;
  parse_mode?: string;
  message_thread_id?: number;
  reply_to_message_id?: number;
  message: Message;
  params: Record<string, unknown>;
}

/** A `sendChatAction` call. */
export interface ChatActionRecord {
  chat_id: ChatId;
  action: string;
  message_thread_id?: number;
}

/** One attempt to POST an update to the webhook. */
export interface WebhookDelivery {
  update_id: number;
  attempt: number;
  status?: number;
  error?: string;
}

/** An error the fake answers instead of running the method; `'disconnect'` drops the socket. */
export type InjectedFailure = { error_code: number; description: string; parameters?: ResponseParameters } | 'disconnect';

/** A message a user sends, for {@link FakeTelegram.userSends}. */
export interface UserMessageOptions {
  from: Omit<User, 'is_bot'> & { is_bot?: boolean };
  /** Default: the private chat with `from`. */
  chat?: { id: number; type: 'private' | 'group' | 'supergroup'; title?: string; username?: string; is_forum?: true };
  text?: string;
  /** Default: what Telegram detects (bot_command, mention). */
  entities?: MessageEntity[];
  caption?: string;
  caption_entities?: MessageEntity[];
  reply_to_message?: Message;
  message_thread_id?: number;
  /**
   * Default: true when `message_thread_id` is set in a forum; `reply_to_message` then defaults to
   * the topic's creation message, as on Telegram.
   */
  is_topic_message?: boolean;
  document?: { file_name: string; mime_type?: string; content: Buffer | string };
  photo?: { content: Buffer; width?: number; height?: number };
  sticker?: { emoji?: string; set_name?: string; content?: Buffer };
  date?: number;
}

/** Options for the `waitFor*` helpers. */
export interface WaitOptions {
  /** Default 5,000 ms. */
  timeoutMs?: number;
  /** Names the condition in the timeout error. */
  what?: string;
}

type Params = Record<string, unknown>;
interface Upload { filename: string; bytes: Buffer }
interface StoredFile { file_id: string; file_unique_id: string; file_size: number; file_path: string; bytes: Buffer }
interface Call { uploads: Map<string, Upload>; signal: AbortSignal }
type Answer = { ok: true; result: unknown } | { ok: false; error_code: number; description: string; parameters?: ResponseParameters };
interface Waiter { poll(): void; abort(error?: Error): void }
interface Poll { limit: number; answer(result: Update[] | ApiFailure): void }
interface Webhook { url: string; secret?: string; maxConnections: number; lastErrorDate?: number; lastErrorMessage?: string }

class ApiFailure extends Error {
  constructor(readonly code: number, description: string, readonly parameters?: ResponseParameters) {
    super(description);
  }
}
const bad = (description: string): ApiFailure => new ApiFailure(400, `Bad Request: ${description}`);

const TEXT_LIMIT = 4096;
const CAPTION_LIMIT = 1024;
const DOWNLOAD_LIMIT = 20 * 1024 * 1024;
// Delivered only when allowed_updates names them.
const OPT_IN_UPDATES = ['chat_member', 'message_reaction', 'message_reaction_count'];
const CHAT_ACTIONS = ['typing', 'upload_photo', 'record_video', 'upload_video', 'record_voice', 'upload_voice',
  'upload_document', 'choose_sticker', 'find_location', 'record_video_note', 'upload_video_note'];
const SERVICE_KEYS = ['new_chat_members', 'left_chat_member', 'new_chat_title', 'new_chat_photo', 'delete_chat_photo',
  'group_chat_created', 'supergroup_chat_created', 'migrate_to_chat_id', 'migrate_from_chat_id', 'pinned_message',
  'forum_topic_created', 'forum_topic_edited', 'forum_topic_closed', 'forum_topic_reopened',
  'message_auto_delete_timer_changed'];
const SCOPES = ['default', 'all_private_chats', 'all_group_chats', 'all_chat_administrators', 'chat',
  'chat_administrators', 'chat_member'];
const MIME: Record<string, string> = { csv: 'text/csv', txt: 'text/plain', json: 'application/json',
  pdf: 'application/pdf', xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  zip: 'application/zip', jpg: 'image/jpeg', png: 'image/png' };

const now = (): number => Math.floor(Date.now() / 1000);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);
const int = (v: unknown): number | undefined => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : undefined;
  return n !== undefined && Number.isSafeInteger(n) ? n : undefined;
};
// Form and multipart values are strings; objects arrive JSON-encoded as Telegram expects.
const json = <T>(v: unknown): T | undefined => {
  if (typeof v !== 'string') return v as T | undefined;
  try {
    return JSON.parse(v) as T;
  } catch {
    return undefined;
  }
};
const extension = (name: string): string => /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase() ?? 'dat';

/**
 * Telegram's automatic entities for what users type: bot commands and @mentions, with TDLib's
 * boundaries (`/cmd@name` is one command; `a/b` and `mail@host` are nothing).
 */
export function detectEntities(text: string): MessageEntity[] {
  const found: MessageEntity[] = [];
  const scan = (re: RegExp, type: 'bot_command' | 'mention'): void => {
    for (const m of text.matchAll(re)) found.push({ type, offset: m.index, length: m[0].length });
  };
  scan(/(?<![\p{L}\p{N}_/<>])\/[a-zA-Z0-9_]{1,64}(?:@[a-zA-Z0-9_]{3,32})?(?![\p{L}\p{N}_/<>@])/gu, 'bot_command');
  scan(/(?<![\p{L}\p{N}_])@[a-zA-Z0-9_]{2,32}(?![\p{L}\p{N}_])/gu, 'mention');
  return found.sort((a, b) => a.offset - b.offset);
}

/** A running fake; create it with {@link startFakeTelegram}. */
export class FakeTelegram {
  readonly token: string;
  /** The bot as getMe returns it. */
  readonly botInfo: UserFromGetMe;
  privacyMode: boolean;
  latencyMs: number;
  /** Every API call in order (getUpdates included). */
  readonly calls: RecordedCall[] = [];
  readonly sentMessages: SentMessage[] = [];
  readonly documents: SentDocument[] = [];
  readonly chatActions: ChatActionRecord[] = [];
  readonly webhookDeliveries: WebhookDelivery[] = [];
  /** Group messages privacy mode kept from the bot. */
  readonly hiddenByPrivacy: Message[] = [];
  /** `file_path`s the bot downloaded. */
  readonly downloads: string[] = [];

  private readonly server: Server;
  private port = 0;
  private closed = false;
  private readonly closing = new AbortController();
  private readonly strictHtml: boolean;
  private readonly webhookTimeoutMs: number;
  private readonly webhookRetries: number;
  private readonly handlers: Record<string, (p: Params, call: Call) => unknown>;
  private readonly methodNames = new Map<string, string>();
  private readonly failures = new Map<string, InjectedFailure[]>();
  private readonly waiters = new Set<Waiter>();
  private queue: Update[] = [];
  private nextUpdateId = 100_001;
  private allowedUpdates: string[] = [];
  private poll: Poll | undefined;
  private webhook: Webhook | undefined;
  private delivering = false;
  private readonly chats = new Map<string, Chat>();
  private readonly messages = new Map<string, Message>();
  private readonly lastMessageId = new Map<number, number>();
  private readonly files = new Map<string, StoredFile>();
  private readonly commandStore = new Map<string, BotCommand[]>();

  private constructor(options: FakeTelegramOptions) {
    const botId = options.botId ?? int(options.token?.split(':')[0]) ?? 7_000_000_001;
    this.token = options.token ?? `${botId}:AAH-fake-token-for-tests`;
    this.privacyMode = options.privacyMode ?? true;
    this.latencyMs = options.latencyMs ?? 0;
    this.strictHtml = options.strictHtml ?? true;
    this.webhookTimeoutMs = options.webhookTimeoutMs ?? 30_000;
    this.webhookRetries = options.webhookRetries ?? 3;
    this.botInfo = {
      id: botId, is_bot: true, first_name: options.botName ?? 'Asyntai Test Bot',
      username: options.botUsername ?? 'asyntai_test_bot', can_join_groups: true,
      can_read_all_group_messages: !this.privacyMode, supports_inline_queries: false, can_connect_to_business: false,
      has_main_web_app: false, has_topics_enabled: false, allows_users_to_create_topics: false, can_manage_bots: false,
      supports_join_request_queries: false,
    };
    this.handlers = this.createHandlers();
    for (const name of Object.keys(this.handlers)) this.methodNames.set(name.toLowerCase(), name);
    this.server = createServer((req, res) => {
      this.onRequest(req, res).catch((error: unknown) => {
        // A bug in the fake: answer like a broken server so the test fails loudly.
        const description = `Internal Server Error: ${error instanceof Error ? error.message : String(error)}`;
        send(res, 500, { ok: false, error_code: 500, description });
      });
    });
  }

  /** @internal Use {@link startFakeTelegram}. */
  static async start(options: FakeTelegramOptions = {}): Promise<FakeTelegram> {
    const fake = new FakeTelegram(options);
    await new Promise<void>((resolve, reject) => {
      fake.server.once('error', reject).listen(0, '127.0.0.1', () => resolve());
    });
    fake.port = (fake.server.address() as AddressInfo).port;
    return fake;
  }

  /** `http://127.0.0.1:PORT`, for `new Bot(token, { client: { apiRoot } })`. */
  get apiRoot(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** True while a long poll is held open, i.e. the bot is waiting for updates. */
  get polling(): boolean {
    return this.poll !== undefined;
  }

  /** Updates not yet confirmed by the bot (or not yet delivered to the webhook). */
  get pendingUpdates(): readonly Update[] {
    return [...this.queue];
  }

  /** Commands per scope: key is the scope's JSON (`{"type":"default"}`), plus `|<lang>` when one was given. */
  get commands(): ReadonlyMap<string, BotCommand[]> {
    return this.commandStore;
  }

  /** The commands set for a scope and language, as getMyCommands would answer. */
  commandsFor(scope: BotCommandScope = { type: 'default' }, languageCode = ''): BotCommand[] | undefined {
    return this.commandStore.get(scopeKey(scope, languageCode));
  }

  /** Calls to one method, in order. */
  callsTo(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method.toLowerCase() === method.toLowerCase());
  }

  /** Forgets what the bot did (calls and the lists derived from them), keeping chats, files and updates. */
  clearRecords(): void {
    for (const list of [this.calls, this.sentMessages, this.documents, this.chatActions,
      this.webhookDeliveries, this.hiddenByPrivacy, this.downloads]) list.length = 0;
  }

  /** Makes the next `count` calls of `method` fail with `failure` (default 500) without running it. */
  failNext(method: string, count = 1,
    failure: InjectedFailure = { error_code: 500, description: 'Internal Server Error' }): void {
    const key = method.toLowerCase();
    this.failures.set(key, [...(this.failures.get(key) ?? []), ...Array<InjectedFailure>(count).fill(failure)]);
  }

  /** Builds a user's message like Telegram would (ids, date, entities, files) without delivering it. */
  makeMessage(o: UserMessageOptions): Message {
    const from: User = { ...o.from, is_bot: o.from.is_bot ?? false };
    const chat: Chat = !o.chat || o.chat.type === 'private'
      ? { id: o.chat?.id ?? from.id, type: 'private', first_name: from.first_name, last_name: from.last_name,
        username: from.username }
      : o.chat.type === 'group'
        ? { id: o.chat.id, type: 'group', title: o.chat.title ?? `Group ${o.chat.id}` }
        : { id: o.chat.id, type: 'supergroup', title: o.chat.title ?? `Group ${o.chat.id}`, username: o.chat.username,
          is_forum: o.chat.is_forum };
    const thread = o.message_thread_id;
    const topic = o.is_topic_message ?? (thread !== undefined && chat.type === 'supergroup' && chat.is_forum === true);
    const reply = o.reply_to_message ?? (topic && thread !== undefined ? this.topicRoot(chat, thread, from) : undefined);
    const m: Record<string, unknown> = { message_id: this.nextMessageId(chat.id), from, chat, date: o.date ?? now() };
    if (thread !== undefined) m.message_thread_id = thread;
    if (topic) m.is_topic_message = true;
    if (reply) m.reply_to_message = withoutReply(reply);
    if (o.text !== undefined) m.text = o.text;
    const entities = o.entities ?? (o.text !== undefined ? detectEntities(o.text) : []);
    if (entities.length > 0) m.entities = entities;
    if (o.caption !== undefined) m.caption = o.caption;
    const captionEntities = o.caption_entities ?? (o.caption !== undefined ? detectEntities(o.caption) : []);
    if (captionEntities.length > 0) m.caption_entities = captionEntities;
    if (o.document) {
      const stored = this.storeFile(Buffer.from(o.document.content), 'documents', o.document.file_name);
      m.document = { ...fileRef(stored), file_name: o.document.file_name,
        mime_type: o.document.mime_type ?? MIME[extension(o.document.file_name)] ?? 'application/octet-stream' };
    }
    if (o.photo) {
      const { content, width = 1280, height = 720 } = o.photo;
      m.photo = [90, width].map((w) => ({ ...fileRef(this.storeFile(content, 'photos', 'photo.jpg')), width: w,
        height: Math.round((height * w) / width) }));
    }
    if (o.sticker) {
      m.sticker = { ...fileRef(this.storeFile(o.sticker.content ?? Buffer.from('RIFF'), 'stickers', 'sticker.webp')),
        type: 'regular', width: 512, height: 512, is_animated: false, is_video: false, emoji: o.sticker.emoji ?? '👍',
        set_name: o.sticker.set_name };
    }
    const message = JSON.parse(JSON.stringify(m)) as Message; // drops undefined fields, as the wire would
    this.remember(message);
    return message;
  }

  /** A user sends a message: builds it ({@link makeMessage}) and queues it as an update. */
  userSends(options: UserMessageOptions): Message {
    const message = this.makeMessage(options);
    this.injectUpdate({ message } as Omit<Update, 'update_id'>);
    return message;
  }

  /** Queues any update (edited messages, channel posts, service messages, callback queries); assigns `update_id`. */
  injectUpdate(update: Omit<Update, 'update_id'>): Update {
    const full = { update_id: this.nextUpdateId++, ...update };
    for (const m of [full.message, full.edited_message, full.channel_post, full.edited_channel_post]) {
      if (m) this.remember(m);
    }
    const visible = full.message ?? full.edited_message;
    if (visible && !this.visibleToBot(visible)) {
      this.hiddenByPrivacy.push(visible);
    } else {
      this.queue.push(full);
      this.wake();
    }
    this.notify();
    return full;
  }

  /** Stores bytes as a file the bot can getFile and download; returns its ids. */
  addFile(content: Buffer | string, fileName = 'file.dat'): { file_id: string; file_unique_id: string } {
    return fileRef(this.storeFile(Buffer.from(content), 'documents', fileName));
  }

  /**
   * Resolves with the first truthy value of `check`, tried now and after everything the bot does;
   * rejects on timeout with a summary of the calls so far.
   */
  waitFor<T>(check: () => T | undefined | null | false, options: WaitOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? 5000;
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        poll: () => {
          try {
            const value = check();
            if (value === undefined || value === null || value === false) return;
            waiter.abort();
            resolve(value);
          } catch (error) {
            waiter.abort(error instanceof Error ? error : new Error(String(error)));
          }
        },
        abort: (error?: Error) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          if (error) reject(error);
        },
      };
      this.waiters.add(waiter);
      const timer = setTimeout(() => waiter.abort(new Error(
        `Timed out after ${timeoutMs} ms waiting for ${options.what ?? 'a condition'}.\n${this.describe()}`)), timeoutMs);
      waiter.poll();
    });
  }

  /** Resolves with the sent messages (of one chat, if given) once there are at least `count`. */
  waitForMessages(count: number, options: WaitOptions & { chatId?: ChatId } = {}): Promise<SentMessage[]> {
    const { chatId } = options;
    const inChat = chatId === undefined ? '' : ` in chat ${chatId}`;
    return this.waitFor(() => {
      const list = this.sentMessages.filter((m) => chatId === undefined || String(m.chat_id) === String(chatId));
      return list.length >= count ? list : undefined;
    }, { what: `${count} sent message(s)${inChat}`, ...options });
  }

  /** Resolves with the first recorded call of `method` (succeeded or not) that matches. */
  waitForCall(method: string, match: (call: RecordedCall) => boolean = () => true,
    options: WaitOptions = {}): Promise<RecordedCall> {
    return this.waitFor(() => this.callsTo(method).find(match), { what: `a ${method} call`, ...options });
  }

  /** What the bot did, for failure messages. */
  describe(): string {
    const shown = this.calls.filter((c) => c.method !== 'getUpdates');
    const lines = shown.slice(-40).map((c) => {
      const params = JSON.stringify(c.params);
      const outcome = c.ok ? 'ok' : `${c.error_code} ${c.description}${c.injected ? ' (injected)' : ''}`;
      return `  ${c.method} ${params.length > 200 ? `${params.slice(0, 200)}…` : params} → ${outcome}`;
    });
    const failedHooks = this.webhookDeliveries.filter((d) => d.error !== undefined || (d.status ?? 200) >= 300);
    return [
      `Bot API calls (${this.calls.length - shown.length} getUpdates not listed):`,
      ...(lines.length > 0 ? lines : ['  (none)']),
      `Pending updates: ${this.queue.length}; hidden by privacy mode: ${this.hiddenByPrivacy.length}; ` +
        `failed webhook deliveries: ${failedHooks.length}`,
    ].join('\n');
  }

  /** Ends held long polls and webhook deliveries, closes every socket and stops listening. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.webhook = undefined;
    this.closing.abort();
    this.poll?.answer([]);
    for (const waiter of [...this.waiters]) waiter.abort(new Error('The fake Telegram was closed'));
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await stopped;
  }

  // --- HTTP ---

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Aborted when the client hangs up, which ends a held long poll.
    const hangUp = new AbortController();
    res.once('close', () => hangUp.abort());
    const path = new URL(req.url ?? '/', this.apiRoot).pathname;
    const file = /^\/file\/bot([^/]+)\/(.+)$/.exec(path);
    if (file) return this.serveFile(res, file[1] ?? '', decodeURIComponent(file[2] ?? ''));
    const api = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(path);
    if (!api) return send(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
    if (api[1] !== this.token) return send(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
    const requested = api[2] ?? '';
    // Telegram's method names are case-insensitive.
    const method = this.methodNames.get(requested.toLowerCase()) ?? requested;
    let body: { params: Params; uploads: Map<string, Upload> };
    try {
      body = await readRequest(req);
    } catch {
      return send(res, 400, { ok: false, error_code: 400, description: "Bad Request: can't parse request body" });
    }
    if (this.latencyMs > 0) await sleep(this.latencyMs);
    const failures = this.failures.get(method.toLowerCase());
    const failure = failures?.shift();
    if (failure === 'disconnect') {
      this.record({ method, params: body.params, ok: false, description: 'connection dropped', injected: true });
      req.socket.destroy();
      return;
    }
    const answer: Answer = failure
      ? { ok: false, ...failure }
      : await this.execute(method, body.params, { uploads: body.uploads, signal: hangUp.signal });
    if (failure) this.record({ method, params: body.params, ...failure, ok: false, injected: true });
    send(res, answer.ok ? 200 : answer.error_code, answer);
  }

  private async execute(method: string, params: Params, call: Call, viaWebhookReply?: boolean): Promise<Answer> {
    const handler = this.handlers[method];
    let answer: Answer;
    try {
      if (!handler) throw new ApiFailure(404, 'Not Found');
      answer = { ok: true, result: await handler(params, call) };
    } catch (error) {
      if (!(error instanceof ApiFailure)) throw error;
      answer = { ok: false, error_code: error.code, description: error.message,
        ...(error.parameters ? { parameters: error.parameters } : {}) };
    }
    this.record({ method, params, ...answer, ...(viaWebhookReply ? { viaWebhookReply } : {}) });
    return answer;
  }

  private serveFile(res: ServerResponse, token: string, path: string): void {
    if (token !== this.token) return send(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
    const file = [...this.files.values()].find((f) => f.file_path === path);
    if (!file) return send(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
    this.downloads.push(path);
    this.notify();
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': file.bytes.length });
    res.end(file.bytes);
  }

  private record(call: RecordedCall): void {
    this.calls.push(call);
    this.notify();
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter.poll();
  }

  // --- updates: long polling and webhook ---

  private isAllowed(update: Update): boolean {
    const type = Object.keys(update).find((k) => k !== 'update_id') ?? '';
    return this.allowedUpdates.length > 0 ? this.allowedUpdates.includes(type) : !OPT_IN_UPDATES.includes(type);
  }

  private take(limit: number): Update[] {
    // Telegram never stores updates the bot did not ask for.
    this.queue = this.queue.filter((u) => this.isAllowed(u));
    return this.queue.slice(0, limit);
  }

  private wake(): void {
    if (this.webhook) {
      void this.deliverAll();
    } else if (this.poll) {
      const ready = this.take(this.poll.limit);
      if (ready.length > 0) this.poll.answer(ready);
    }
  }

  private getUpdates(p: Params, { signal }: Call): Update[] | Promise<Update[]> {
    if (this.webhook) {
      throw new ApiFailure(409,
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
    }
    const offset = int(p.offset) ?? 0;
    // A negative offset keeps only the last -offset updates.
    this.queue = offset < 0 ? this.queue.slice(offset) : this.queue.filter((u) => u.update_id >= offset);
    const allowed = json<string[]>(p.allowed_updates);
    if (Array.isArray(allowed)) this.allowedUpdates = allowed;
    this.poll?.answer(new ApiFailure(409,
      'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running'));
    const limit = Math.min(100, Math.max(1, int(p.limit) ?? 100));
    const ready = this.take(limit);
    const timeout = Math.max(0, int(p.timeout) ?? 0);
    if (ready.length > 0 || timeout === 0 || this.closed) return ready;
    return new Promise((resolve, reject) => {
      const poll: Poll = {
        limit,
        answer: (result) => {
          clearTimeout(timer);
          signal.removeEventListener('abort', gone);
          if (this.poll === poll) this.poll = undefined;
          if (result instanceof ApiFailure) reject(result);
          else resolve(result);
        },
      };
      const timer = setTimeout(() => poll.answer([]), timeout * 1000);
      // The bot went away (grammY aborts its poll on stop): free the slot.
      const gone = (): void => poll.answer([]);
      signal.addEventListener('abort', gone);
      this.poll = poll;
      this.notify();
    });
  }

  private async deliverAll(): Promise<void> {
    if (this.delivering) return;
    this.delivering = true;
    try {
      for (let update = this.take(1)[0]; this.webhook && update; update = this.take(1)[0]) {
        const done = await this.deliver(this.webhook, update);
        if (done) this.queue = this.queue.filter((u) => u !== update);
        this.notify();
      }
    } finally {
      this.delivering = false;
    }
  }

  /** POSTs one update, retrying; true once it is delivered or given up on, false if the webhook went away. */
  private async deliver(hook: Webhook, update: Update): Promise<boolean> {
    for (let attempt = 1; attempt <= 1 + this.webhookRetries; attempt++) {
      if (this.webhook !== hook) return false;
      const record: WebhookDelivery = { update_id: update.update_id, attempt };
      this.webhookDeliveries.push(record);
      try {
        const reply = await this.post(hook, JSON.stringify(update));
        record.status = reply.status;
        if (reply.status >= 200 && reply.status < 300) {
          await this.runWebhookReply(reply.body);
          return true;
        }
        hook.lastErrorMessage = `Wrong response from the webhook: ${reply.status} ${STATUS_CODES[reply.status] ?? ''}`.trim();
      } catch (error) {
        const e = error as NodeJS.ErrnoException;
        record.error = e.name === 'TimeoutError' ? 'Read timeout expired'
          : e.code === 'ECONNREFUSED' ? 'Connection refused' : e.message;
        hook.lastErrorMessage = record.error;
      }
      hook.lastErrorDate = now();
      this.notify();
      if (this.closed) return false;
      await sleep(100 * attempt);
    }
    return true;
  }

  private post(hook: Webhook, body: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { 'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)) };
      if (hook.secret) headers['x-telegram-bot-api-secret-token'] = hook.secret;
      const signal = AbortSignal.any([this.closing.signal, AbortSignal.timeout(this.webhookTimeoutMs)]);
      const req = request(hook.url, { method: 'POST', headers, agent: false, signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', (error) => reject(signal.aborted && signal.reason instanceof Error ? signal.reason : error));
      req.end(body);
    });
  }

  /** A webhook answer may carry one method call (grammY's webhook reply). */
  private async runWebhookReply(body: string): Promise<void> {
    const payload = json<Params>(body);
    if (!payload || typeof payload.method !== 'string') return;
    const { method, ...params } = payload;
    const name = this.methodNames.get(method.toLowerCase()) ?? method;
    await this.execute(name, params, { uploads: new Map(), signal: this.closing.signal }, true);
  }

  // --- chats, messages, files ---

  private chatFor(id: ChatId): Chat {
    const known = this.chats.get(String(id));
    if (known) return known;
    if (typeof id === 'string') {
      const channel: Chat = { id: -1_000_000_000_001 - this.chats.size, type: 'channel', title: id.slice(1),
        username: id.slice(1) };
      this.chats.set(id, channel);
      return channel;
    }
    if (id > 0) return { id, type: 'private', first_name: `User ${id}` };
    const title = `Group ${id}`;
    return String(id).startsWith('-100') ? { id, type: 'supergroup', title } : { id, type: 'group', title };
  }

  private nextMessageId(chatId: number): number {
    const id = (this.lastMessageId.get(chatId) ?? 0) + 1;
    this.lastMessageId.set(chatId, id);
    return id;
  }

  private remember(m: Message): void {
    this.chats.set(String(m.chat.id), m.chat);
    this.messages.set(`${m.chat.id}:${m.message_id}`, m);
    this.lastMessageId.set(m.chat.id, Math.max(this.lastMessageId.get(m.chat.id) ?? 0, m.message_id));
  }

  /** The service message that opened a forum topic; its id is the topic's `message_thread_id`. */
  private topicRoot(chat: Chat, thread: number, from: User): Message {
    const known = this.messages.get(`${chat.id}:${thread}`);
    if (known) return known;
    const root = { message_id: thread, from, chat, date: now(), message_thread_id: thread, is_topic_message: true,
      forum_topic_created: { name: `Topic ${thread}`, icon_color: 0x6fb9f0 } } as Message;
    this.remember(root);
    return root;
  }

  private visibleToBot(m: Message): boolean {
    if (!this.privacyMode || (m.chat.type !== 'group' && m.chat.type !== 'supergroup')) return true;
    if (SERVICE_KEYS.some((key) => key in m)) return true;
    const me = `@${this.botInfo.username}`.toLowerCase();
    const text = m.text ?? m.caption ?? '';
    for (const e of m.entities ?? m.caption_entities ?? []) {
      const s = text.slice(e.offset, e.offset + e.length).toLowerCase();
      // A bare /command counts as aimed at us: Telegram's "last bot to speak" rule, with one bot.
      if (e.type === 'bot_command' && (!s.includes('@') || s.endsWith(me))) return true;
      if (e.type === 'mention' && s === me) return true;
    }
    return m.reply_to_message?.from?.id === this.botInfo.id;
  }

  private storeFile(bytes: Buffer, folder: string, name: string): StoredFile {
    const n = this.files.size + 1;
    const file: StoredFile = { file_id: `BQACAgIAAxkBAAI${n}fake${this.port}`, file_unique_id: `AgAD${n}`,
      file_size: bytes.length, file_path: `${folder}/file_${n}.${extension(name)}`, bytes };
    this.files.set(file.file_id, file);
    return file;
  }

  private chatId(p: Params): ChatId {
    const raw = p.chat_id;
    if (raw === undefined || raw === '') throw bad('chat_id is empty');
    const id = int(raw);
    if (id !== undefined && id !== 0) return id;
    if (typeof raw === 'string' && /^@[A-Za-z0-9_]{4,32}$/.test(raw)) return raw;
    throw bad('chat not found');
  }

  private replyTarget(chat: Chat, p: Params): Message | undefined {
    const parameters = json<ReplyParameters>(p.reply_parameters);
    const id = parameters?.message_id ?? int(p.reply_to_message_id);
    if (id === undefined) return undefined;
    const chatId = parameters?.chat_id !== undefined ? this.chatFor(parameters.chat_id).id : chat.id;
    const target = this.messages.get(`${chatId}:${id}`);
    const lenient = parameters?.allow_sending_without_reply ?? p.allow_sending_without_reply;
    if (!target && lenient !== true && lenient !== 'true') throw bad('message to be replied not found');
    return target;
  }

  /** Text and entities as Telegram stores them: parse_mode applied, surrounding whitespace trimmed. */
  private format(raw: string, parseMode: unknown, entities: unknown): { text: string; entities: MessageEntity[] } {
    let parsed: { text: string; entities: MessageEntity[] };
    if (parseMode === 'HTML') {
      try {
        parsed = parseTelegramHtml(raw, { strict: this.strictHtml });
      } catch (error) {
        if (error instanceof TelegramHtmlError) throw new ApiFailure(400, error.message);
        throw error;
      }
    } else if (parseMode === 'MarkdownV2' || parseMode === 'Markdown') {
      // Failing beats passing untested markup: the bridge renders HTML (platform notes).
      throw bad(`can't parse entities: the fake does not implement ${parseMode}; use HTML`);
    } else if (parseMode !== undefined && parseMode !== '') {
      throw bad('unsupported parse_mode');
    } else {
      parsed = { text: raw, entities: json<MessageEntity[]>(entities) ?? [] };
    }
    const start = parsed.text.length - parsed.text.trimStart().length;
    const text = parsed.text.trim();
    const clipped = parsed.entities.flatMap((e) => {
      const from = Math.max(e.offset - start, 0);
      const to = Math.min(e.offset + e.length - start, text.length);
      return to > from ? [{ ...e, offset: from, length: to - from }] : [];
    });
    return { text, entities: clipped };
  }

  private botMessage(chatId: ChatId, p: Params, fields: Params): Message {
    const chat = this.chatFor(chatId);
    const reply = this.replyTarget(chat, p);
    const thread = int(p.message_thread_id);
    const m: Params = { message_id: this.nextMessageId(chat.id), from: this.botUser(), chat, date: now() };
    if (thread !== undefined) m.message_thread_id = thread;
    if (thread !== undefined && chat.type === 'supergroup' && chat.is_forum) m.is_topic_message = true;
    if (reply) m.reply_to_message = withoutReply(reply);
    const message = { ...m, ...fields } as unknown as Message;
    this.remember(message);
    return message;
  }

  private botUser(): User {
    const { id, is_bot, first_name, username } = this.botInfo;
    return { id, is_bot, first_name, username };
  }

  // --- methods ---

  private createHandlers(): Record<string, (p: Params, call: Call) => unknown> {
    return {
      getMe: () => this.botInfo,
      getUpdates: (p, call) => this.getUpdates(p, call),
      setWebhook: (p) => {
        const url = str(p.url) ?? '';
        const secret = str(p.secret_token);
        if (url === '') return this.handlers.deleteWebhook?.(p, { uploads: new Map(), signal: this.closing.signal });
        if (!/^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?\//.test(url)) {
          throw bad('bad webhook: the fake delivers to http://127.0.0.1 only');
        }
        if (secret !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(secret)) throw bad('secret token contains unallowed characters');
        if (p.drop_pending_updates === true || p.drop_pending_updates === 'true') this.queue = [];
        const allowed = json<string[]>(p.allowed_updates);
        if (Array.isArray(allowed)) this.allowedUpdates = allowed;
        this.poll?.answer(new ApiFailure(409, 'Conflict: terminated by setWebhook request'));
        this.webhook = { url, secret, maxConnections: int(p.max_connections) ?? 40 };
        this.wake();
        return true;
      },
      deleteWebhook: (p) => {
        if (p.drop_pending_updates === true || p.drop_pending_updates === 'true') this.queue = [];
        this.webhook = undefined;
        return true;
      },
      getWebhookInfo: () => {
        const hook = this.webhook;
        return {
          url: hook?.url ?? '', has_custom_certificate: false, pending_update_count: this.queue.length,
          ...(hook ? { max_connections: hook.maxConnections } : {}),
          ...(this.allowedUpdates.length > 0 ? { allowed_updates: this.allowedUpdates } : {}),
          ...(hook?.lastErrorDate ? { last_error_date: hook.lastErrorDate, last_error_message: hook.lastErrorMessage } : {}),
        };
      },
      sendMessage: (p) => {
        const chatId = this.chatId(p);
        const raw = str(p.text) ?? '';
        const { text, entities } = this.format(raw, p.parse_mode, p.entities);
        if (text === '') throw bad('message text is empty');
        if (text.length > TEXT_LIMIT) throw bad('message is too long');
        const message = this.botMessage(chatId, p, { text, ...(entities.length > 0 ? { entities } : {}) });
        this.sentMessages.push({ chat_id: chatId, text: raw, visibleText: text, entities, parse_mode: str(p.parse_mode),
          message_thread_id: int(p.message_thread_id), reply_to_message_id: message.reply_to_message?.message_id,
          reply_parameters: json<ReplyParameters>(p.reply_parameters), message, params: p });
        return message;
      },
      sendChatAction: (p) => {
        const chatId = this.chatId(p);
        const action = str(p.action) ?? '';
        if (!CHAT_ACTIONS.includes(action)) throw bad('wrong parameter action in request');
        this.chatActions.push({ chat_id: chatId, action, message_thread_id: int(p.message_thread_id) });
        return true;
      },
      sendDocument: (p, { uploads }) => {
        const chatId = this.chatId(p);
        const input = p.document;
        const attached = typeof input === 'string' && input.startsWith('attach://')
          ? uploads.get(input.slice(9))
          : uploads.get('document');
        const known = typeof input === 'string' ? this.files.get(input) : undefined;
        if (input === undefined && !attached) throw bad('there is no document in the request');
        if (!attached && !known) throw bad('wrong file identifier/HTTP URL specified');
        const filename = attached?.filename ?? known?.file_path.split('/').pop() ?? 'document.dat';
        const bytes = attached?.bytes ?? known?.bytes ?? Buffer.alloc(0);
        if (bytes.length === 0) throw bad('file must be non-empty');
        const { text: caption, entities } = this.format(str(p.caption) ?? '', p.parse_mode, p.caption_entities);
        if (caption.length > CAPTION_LIMIT) throw bad('message caption is too long');
        const stored = known ?? this.storeFile(bytes, 'documents', filename);
        const mime = MIME[extension(filename)] ?? 'application/octet-stream';
        const message = this.botMessage(chatId, p, {
          document: { ...fileRef(stored), file_name: filename, mime_type: mime },
          ...(caption ? { caption } : {}), ...(entities.length > 0 ? { caption_entities: entities } : {}),
        });
        this.documents.push({ chat_id: chatId, filename, bytes, mime_type: mime, caption: caption || undefined,
          parse_mode: str(p.parse_mode), message_thread_id: int(p.message_thread_id),
          reply_to_message_id: message.reply_to_message?.message_id, message, params: p });
        return message;
      },
      getFile: (p) => {
        const file = this.files.get(str(p.file_id) ?? '');
        if (!file) throw bad('invalid file_id');
        if (file.file_size > DOWNLOAD_LIMIT) throw bad('file is too big');
        return { ...fileRef(file), file_path: file.file_path };
      },
      setMyCommands: (p) => {
        // Without `commands` Telegram sets an empty list (tdlib/telegram-bot-api#98).
        const list = json<unknown>(p.commands) ?? [];
        if (!Array.isArray(list)) throw bad('field "commands" must be an Array');
        if (list.length > 100) throw bad('too many commands');
        const commands = list.map((c: Partial<Record<keyof BotCommand, unknown>>) => {
          for (const field of ['command', 'description'] as const) {
            if (typeof c[field] !== 'string') throw bad(`can't parse BotCommand: Can't find field "${field}"`);
          }
          const { command, description } = c as BotCommand;
          if (!/^[a-z0-9_]{1,32}$/.test(command)) throw bad('BOT_COMMAND_INVALID');
          if (description.trim().length === 0 || description.length > 256) throw bad('BOT_COMMAND_DESCRIPTION_INVALID');
          return { command, description };
        });
        const key = scopeKey(this.scope(p), str(p.language_code) ?? '');
        if (commands.length > 0) this.commandStore.set(key, commands);
        else this.commandStore.delete(key);
        return true;
      },
      getMyCommands: (p) => this.commandStore.get(scopeKey(this.scope(p), str(p.language_code) ?? '')) ?? [],
      deleteMyCommands: (p) => {
        this.commandStore.delete(scopeKey(this.scope(p), str(p.language_code) ?? ''));
        return true;
      },
      answerCallbackQuery: (p) => {
        if (!str(p.callback_query_id)) throw bad('query is too old and response timeout expired or query ID is invalid');
        return true;
      },
    };
  }

  private scope(p: Params): BotCommandScope {
    const scope = json<BotCommandScope>(p.scope) ?? { type: 'default' };
    if (!SCOPES.includes(scope.type)) throw bad('unsupported bot command scope type');
    if ('chat_id' in scope) this.chatId({ chat_id: scope.chat_id });
    return scope;
  }
}

/**
 * Starts a fake Telegram Bot API on 127.0.0.1 (a free port). Stop the bot first (`bot.stop()`
 * confirms its offset through the fake), then `close()` the fake.
 */
export function startFakeTelegram(options?: FakeTelegramOptions): Promise<FakeTelegram> {
  return FakeTelegram.start(options);
}

function scopeKey(scope: BotCommandScope, languageCode: string): string {
  const { type } = scope;
  const chat = 'chat_id' in scope ? { chat_id: int(scope.chat_id) ?? scope.chat_id } : {};
  const user = 'user_id' in scope ? { user_id: int(scope.user_id) } : {};
  const key = JSON.stringify({ type, ...chat, ...user });
  return languageCode ? `${key}|${languageCode}` : key;
}

function fileRef(file: StoredFile): { file_id: string; file_unique_id: string; file_size: number } {
  return { file_id: file.file_id, file_unique_id: file.file_unique_id, file_size: file.file_size };
}

/** Telegram nests one level only: a replied-to message carries no reply of its own. */
function withoutReply(m: Message): Message {
  const { reply_to_message: _nested, ...rest } = m;
  return rest;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readRequest(req: IncomingMessage): Promise<{ params: Params; uploads: Map<string, Upload> }> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  const params: Params = {};
  const uploads = new Map<string, Upload>();
  for (const [k, v] of new URL(req.url ?? '/', 'http://x').searchParams) params[k] = v;
  const type = req.headers['content-type'] ?? '';
  if (body.length === 0) return { params, uploads };
  if (type.startsWith('application/json')) {
    Object.assign(params, JSON.parse(body.toString('utf8')) as Params);
  } else if (type.startsWith('application/x-www-form-urlencoded')) {
    for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params[k] = v;
  } else if (type.startsWith('multipart/form-data')) {
    const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(type);
    parseMultipart(body, boundary?.[1] ?? boundary?.[2] ?? '', params, uploads);
  }
  return { params, uploads };
}

/**
 * A lenient multipart reader. grammY writes `filename=` unquoted (`filename=my report.csv`), which
 * busboy drops silently; Telegram takes the rest of the line, and so do we.
 */
function parseMultipart(body: Buffer, boundary: string, params: Params, uploads: Map<string, Upload>): void {
  const delimiter = Buffer.from(`--${boundary}`);
  for (let at = body.indexOf(delimiter); at !== -1;) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delimiter, start);
    if (next === -1) break;
    const part = body.subarray(start + 2, next - 2); // the CRLFs around the part
    const split = part.indexOf('\r\n\r\n');
    const head = part.subarray(0, split).toString('utf8');
    const content = part.subarray(split + 4);
    const name = /;\s*name=(?:"([^"]*)"|([^;\r\n]*))/i.exec(head);
    const filename = /;\s*filename=(?:"([^"]*)"|([^\r\n]*))/i.exec(head);
    const key = name?.[1] ?? name?.[2]?.trim() ?? '';
    if (filename) uploads.set(key, { filename: (filename[1] ?? filename[2] ?? '').trim(), bytes: Buffer.from(content) });
    else params[key] = content.toString('utf8');
    at = next;
  }
}
