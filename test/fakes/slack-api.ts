/**
 * A loopback fake of Slack for end-to-end tests through real Bolt and @slack/web-api.
 *
 * The Web API side: `POST /api/<method>` with form-urlencoded or JSON bodies (objects such as
 * `blocks` arrive JSON-encoded inside forms, as WebClient sends them), the token in
 * `Authorization: Bearer` or a `token` field, answers `{ok:true,...}` / `{ok:false,error}` with
 * HTTP 200, and 429 + Retry-After or 5xx when a fault is injected. It checks what Slack checks where
 * our bugs would show: the 40,000-character text limit (`msg_too_long`), ≤ 50 blocks and section
 * text ≤ 3,000 (`invalid_blocks`), trigger ids (known, unused, younger than 3 s), modal limits,
 * file uploads in the three steps of `filesUploadV2`, and `url_private` downloads that need the bot
 * token. `response_url`s take five posts within 30 minutes, as Slack's do.
 *
 * The user side: events, slash commands, block actions and view submissions delivered to the
 * bot's HTTP endpoint with v0 signatures (good, bad, stale or missing) and `X-Slack-Retry-Num`, or
 * as Socket Mode envelopes over a loopback WebSocket (`apps.connections.open` hands out its URL),
 * whose acks are recorded.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import busboy from 'busboy';
import { Agent } from 'undici';
import { WebSocketServer, type WebSocket } from 'ws';

/** Options for {@link startFakeSlack}. */
export interface FakeSlackOptions {
  botToken?: string;
  appToken?: string;
  signingSecret?: string;
  teamId?: string;
  botUserId?: string;
  botId?: string;
}

/** One Web API call as the fake answered it. */
export interface RecordedCall {
  method: string;
  params: Record<string, unknown>;
  ok: boolean;
  error?: string;
  /** HTTP status when a fault was injected (429, 5xx). */
  status?: number;
}

/**
 * A message the bot made visible: posted, ephemeral, through a response_url, or as the body of
 * its acknowledgement of a slash command (which Slack shows to the sender alone, or in channel).
 */
export interface PostedMessage {
  via: 'chat.postMessage' | 'chat.postEphemeral' | 'response_url' | 'ack';
  channel: string;
  ts: string;
  text: string;
  blocks?: Block[];
  thread_ts?: string;
  /** The only user who sees it; absent for public messages. */
  visibleTo?: string;
  /** For response_url posts: whether it replaced the message the action came from. */
  replaceOriginal?: boolean;
  deleteOriginal?: boolean;
  /** The response_url's id, for response_url posts. */
  responseUrl?: string;
}

/** A file the bot shared (files.completeUploadExternal). */
export interface SharedFile {
  id: string;
  name: string;
  title: string;
  channel: string;
  thread_ts?: string;
  initial_comment?: string;
  bytes: Buffer;
}

/** A modal the bot opened, with its state. */
export interface OpenedView {
  id: string;
  trigger_id: string;
  view: View;
  closed: boolean;
  /** The validation errors the bot answered on the last submission. */
  errors?: Record<string, string>;
}

/** One Socket Mode acknowledgement the bot sent. */
export interface SocketAck {
  envelope_id: string;
  payload?: Record<string, unknown>;
}

/** A file a user uploaded (for file_input submissions). */
export interface UserFile {
  id: string;
  name: string;
  title: string;
  mimetype: string;
  filetype: string;
  size: number;
  url_private: string;
  url_private_download: string;
}

/** How to sign a request to the bot. */
export type SignatureMode = 'good' | 'bad' | 'stale' | 'missing';

/** How a delivery reaches the bot. */
export interface DeliveryOptions {
  /** Default `http` (or the fake's `transport`). */
  via?: 'http' | 'socket';
  signature?: SignatureMode;
  /** Sent as X-Slack-Retry-Num (HTTP) or retry_attempt (Socket Mode). */
  retryNum?: number;
  retryReason?: string;
}

/** What the bot answered to one delivery: the HTTP response, or the Socket Mode ack. */
export interface DeliveryResult {
  status: number;
  /** Parsed JSON body (or ack payload); undefined when empty. */
  body: unknown;
  text: string;
}

/** A user of the fake workspace. */
export interface SlackUser {
  id: string;
  name: string;
}

type Block = Record<string, unknown>;
type View = Record<string, unknown> & { blocks?: Block[] };
type Params = Record<string, unknown>;
type Failure = { status: number; retryAfter?: number } | { error: string };
interface Trigger {
  id: string;
  created: number;
  used: boolean;
}
interface ResponseUrl {
  id: string;
  channel: string;
  user: string;
  created: number;
  uses: number;
}
interface StoredFile extends UserFile {
  bytes: Buffer | undefined;
  length: number;
}

const TEXT_LIMIT = 40_000;
const MAX_BLOCKS = 50;
const SECTION_TEXT_LIMIT = 3_000;
const TRIGGER_TTL_MS = 3_000;
const RESPONSE_URL_USES = 5;
const RESPONSE_URL_TTL_MS = 30 * 60_000;

class ApiError extends Error {}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);
/** Form values arrive as strings; objects JSON-encoded inside them. */
function decoded<T>(v: unknown): T | undefined {
  if (typeof v !== 'string') return v as T | undefined;
  try {
    return JSON.parse(v) as T;
  } catch {
    return undefined;
  }
}
function textOf(obj: unknown): string {
  return typeof obj === 'object' && obj !== null && typeof (obj as { text?: unknown }).text === 'string' ? (obj as { text: string }).text : '';
}

/** Text as a Slack client sends what a user typed: `&`, `<` and `>` escaped, so only real mentions are markup. */
export function typedBySlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * What a user sees of a message's mrkdwn text: links shown by their label, mentions as names,
 * entities decoded, zero-width spaces gone. Formatting markers (`*bold*`) are left in place.
 */
export function slackVisibleText(text: string): string {
  return text
    .replace(/<(?:[^|>]*)\|([^>]*)>/g, '$1')
    .replace(/<([^>]*)>/g, '$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\u200B/g, '');
}

/** Whether a message text could notify people: a mass mention or a user/group mention token. */
export function slackTextPings(text: string): boolean {
  return /<!(?:channel|here|everyone|subteam)|<@[UW]/.test(text);
}

/** A running fake; create it with {@link startFakeSlack}. */
export class FakeSlack {
  readonly botToken: string;
  readonly appToken: string;
  readonly signingSecret: string;
  readonly teamId: string;
  readonly botUserId: string;
  readonly botId: string;
  /** Every Web API call in order. */
  readonly calls: RecordedCall[] = [];
  readonly messages: PostedMessage[] = [];
  readonly files: SharedFile[] = [];
  readonly views: OpenedView[] = [];
  /** Reactions currently on messages, as `channel/ts/name`. */
  readonly reactions = new Set<string>();
  /** Every reactions.add, in order, as `channel/ts/name`. */
  readonly reactionsAdded: string[] = [];
  readonly socketAcks: SocketAck[] = [];
  /** `url_private` downloads, by file id, with whether the bot token came with them. */
  readonly downloads: Array<{ fileId: string; authorized: boolean }> = [];
  /** The bot's HTTP endpoint; set it before delivering over HTTP. */
  botUrl: string | undefined;
  /** Keep-alive connections for the requests Slack makes to the bot. */
  private readonly toBot = new Agent({ keepAliveTimeout: 4_000 });
  /** Default transport of deliveries. */
  transport: 'http' | 'socket' = 'http';
  /** Delay before every Web API answer. */
  latencyMs = 0;

  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private port = 0;
  private readonly failures = new Map<string, Failure[]>();
  private readonly triggers = new Map<string, Trigger>();
  private readonly responseUrls = new Map<string, ResponseUrl>();
  private readonly storedFiles = new Map<string, StoredFile>();
  private readonly tickets = new Set<string>();
  private readonly sockets = new Set<WebSocket>();
  private readonly ackWaiters = new Map<string, (ack: SocketAck) => void>();
  private readonly waiters = new Set<() => void>();
  private readonly pinger: NodeJS.Timeout;
  private tsCounter = 0;
  private idCounter = 0;

  private constructor(options: FakeSlackOptions) {
    this.botToken = options.botToken ?? 'xoxb-1111-2222-fakebottoken';
    this.appToken = options.appToken ?? 'xapp-1-A111-3333-fakeapptoken';
    this.signingSecret = options.signingSecret ?? 'fake-signing-secret-0123456789abcdef';
    this.teamId = options.teamId ?? 'T0FAKE';
    this.botUserId = options.botUserId ?? 'U0BOT';
    this.botId = options.botId ?? 'B0BOT';
    this.server = createServer((req, res) => void this.route(req, res));
    this.wss = new WebSocketServer({ noServer: true });
    this.server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const ticket = url.searchParams.get('ticket') ?? '';
      if (url.pathname !== '/link/' || !this.tickets.delete(ticket)) {
        socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws));
    });
    // Slack pings Socket Mode clients; the client reconnects when pings stop for 30 s.
    this.pinger = setInterval(() => {
      for (const ws of this.sockets) ws.ping();
    }, 5_000);
    this.pinger.unref();
  }

  /** Starts a fake on a free loopback port. */
  static async start(options: FakeSlackOptions = {}): Promise<FakeSlack> {
    const fake = new FakeSlack(options);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.port = (fake.server.address() as AddressInfo).port;
    return fake;
  }

  /** The Web API base URL (SLACK_API_URL). */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api/`;
  }

  /** Open Socket Mode connections. */
  get socketConnections(): number {
    return this.sockets.size;
  }

  async close(): Promise<void> {
    clearInterval(this.pinger);
    await this.toBot.close();
    for (const ws of this.sockets) ws.terminate();
    this.wss.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** Forgets what the bot did (messages, calls, views, files, acks), keeping users' files. */
  clearRecords(): void {
    this.calls.length = 0;
    this.messages.length = 0;
    this.files.length = 0;
    this.views.length = 0;
    this.reactionsAdded.length = 0;
    this.socketAcks.length = 0;
    this.downloads.length = 0;
    this.failures.clear();
    this.latencyMs = 0;
  }

  /**
   * The next `count` calls of `method` fail: `{status: 429, retryAfter}`, `{status: 503}` (HTTP
   * errors) or `{error: 'channel_not_found'}` (Slack's ok:false).
   */
  failNext(method: string, failure: Failure, count = 1): void {
    const list = this.failures.get(method) ?? [];
    for (let i = 0; i < count; i++) list.push(failure);
    this.failures.set(method, list);
  }

  /** Messages the bot made visible in `channel` (optionally one thread), in order. */
  messagesIn(channel: string, threadTs?: string): PostedMessage[] {
    return this.messages.filter((m) => m.channel === channel && (threadTs === undefined || m.thread_ts === threadTs));
  }

  /** Resolves once `check` holds (re-checked after every call the bot makes). */
  async waitFor<T>(check: () => T | undefined | false, { timeoutMs = 8_000, what = 'condition' } = {}): Promise<T> {
    const first = check();
    if (first) return first;
    return new Promise<T>((resolve, reject) => {
      const poll = () => {
        const value = check();
        if (!value) return;
        this.waiters.delete(poll);
        clearTimeout(timer);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(poll);
        reject(new Error(`timed out waiting for ${what}; bot posted:\n${this.messages.map((m) => `[${m.via} ${m.channel}] ${m.text}`).join('\n')}`));
      }, timeoutMs);
      this.waiters.add(poll);
    });
  }

  /** Resolves with the first `count` messages in `channel` (and thread) once they exist. */
  async waitForMessages(channel: string, count: number, threadTs?: string): Promise<PostedMessage[]> {
    return this.waitFor(() => (this.messagesIn(channel, threadTs).length >= count ? this.messagesIn(channel, threadTs) : undefined), {
      what: `${count} message(s) in ${channel}${threadTs ? ` thread ${threadTs}` : ''}`,
    });
  }

  // ---------------------------------------------------------------- playing the user

  /** A new message timestamp, increasing. */
  nextTs(): string {
    this.tsCounter += 1;
    return `${Math.floor(Date.now() / 1000)}.${String(this.tsCounter).padStart(6, '0')}`;
  }

  /**
   * A user's message as Slack delivers it: in a channel (`C…`/`G…`) that mentions the bot, an
   * `app_mention` and a `message` event (two deliveries, two event ids); otherwise one `message`
   * event. DMs are channels starting with `D`. Returns the message ts and both answers.
   */
  async userSays(
    user: SlackUser,
    channel: string,
    text: string,
    options: DeliveryOptions & { thread_ts?: string; ts?: string; extra?: Params; mentionOnly?: boolean } = {},
  ): Promise<{ ts: string; results: DeliveryResult[] }> {
    const ts = options.ts ?? this.nextTs();
    const channelType = channel.startsWith('D') ? 'im' : channel.startsWith('G') ? 'group' : 'channel';
    const base: Params = {
      user: user.id,
      text,
      ts,
      event_ts: ts,
      channel,
      team: this.teamId,
      ...(options.thread_ts ? { thread_ts: options.thread_ts } : {}),
      ...options.extra,
    };
    const results: DeliveryResult[] = [];
    const mentions = channelType !== 'im' && text.includes(`<@${this.botUserId}>`);
    if (mentions) results.push(await this.deliverEvent({ ...base, type: 'app_mention' }, options));
    if (!options.mentionOnly) results.push(await this.deliverEvent({ ...base, type: 'message', channel_type: channelType }, options));
    return { ts, results };
  }

  /** Delivers one event in an `event_callback` envelope (a new event id unless `eventId` is given). */
  async deliverEvent(event: Params, options: DeliveryOptions & { eventId?: string } = {}): Promise<DeliveryResult> {
    const body = this.eventEnvelope(event, options.eventId);
    if ((options.via ?? this.transport) === 'socket') return this.sendEnvelope('events_api', body, options);
    return this.postToBot(JSON.stringify(body), 'application/json', options);
  }

  /** The `event_callback` envelope Slack wraps `event` in (a new event id unless one is given). */
  eventEnvelope(event: Params, eventId?: string): Params {
    return {
      token: 'legacy-verification-token',
      team_id: this.teamId,
      api_app_id: 'A0FAKE',
      event,
      type: 'event_callback',
      event_id: eventId ?? `Ev${this.newId()}`,
      event_time: Math.floor(Date.now() / 1000),
      authorizations: [{ enterprise_id: null, team_id: this.teamId, user_id: this.botUserId, is_bot: true, is_enterprise_install: false }],
      is_ext_shared_channel: false,
    };
  }

  /** A slash command; its trigger_id and response_url become valid now. */
  async slashCommand(
    user: SlackUser,
    channel: string,
    command: string,
    text = '',
    options: DeliveryOptions = {},
  ): Promise<DeliveryResult & { triggerId: string; responseUrl: string }> {
    const triggerId = this.newTrigger();
    const responseUrl = this.newResponseUrl(channel, user.id);
    const fields: Record<string, string> = {
      token: 'legacy-verification-token',
      team_id: this.teamId,
      team_domain: 'fakeshop',
      channel_id: channel,
      channel_name: channel.startsWith('D') ? 'directmessage' : 'general',
      user_id: user.id,
      user_name: user.name,
      command,
      text,
      api_app_id: 'A0FAKE',
      is_enterprise_install: 'false',
      response_url: responseUrl,
      trigger_id: triggerId,
    };
    const result =
      (options.via ?? this.transport) === 'socket'
        ? await this.sendEnvelope('slash_commands', fields, options)
        : await this.postToBot(new URLSearchParams(fields).toString(), 'application/x-www-form-urlencoded', options);
    if (result.status === 200 && result.text !== '') this.recordAck(result, channel, user.id);
    return { ...result, triggerId, responseUrl };
  }

  /** Clicks the button `actionId` of a message the bot posted. */
  async clickButton(user: SlackUser, message: PostedMessage, actionId: string, options: DeliveryOptions = {}): Promise<DeliveryResult> {
    const button = (message.blocks ?? [])
      .flatMap((b) => (Array.isArray(b.elements) ? (b.elements as Block[]) : b.accessory ? [b.accessory as Block] : []))
      .find((e) => e.type === 'button' && e.action_id === actionId);
    if (!button) throw new Error(`no button ${actionId} in message: ${JSON.stringify(message.blocks)}`);
    const block = (message.blocks ?? []).find((b) => Array.isArray(b.elements) && (b.elements as Block[]).includes(button));
    const payload = {
      type: 'block_actions',
      user: { id: user.id, username: user.name, name: user.name, team_id: this.teamId },
      api_app_id: 'A0FAKE',
      token: 'legacy-verification-token',
      container: { type: 'message', message_ts: message.ts, channel_id: message.channel, is_ephemeral: message.visibleTo !== undefined },
      trigger_id: this.newTrigger(),
      team: { id: this.teamId, domain: 'fakeshop' },
      channel: { id: message.channel, name: 'general' },
      response_url: this.newResponseUrl(message.channel, user.id),
      actions: [{ action_id: actionId, block_id: block?.block_id ?? 'b', value: button.value, type: 'button', action_ts: this.nextTs(), text: button.text }],
    };
    return this.deliverInteractive(payload, options);
  }

  /**
   * Submits an open modal with `values` keyed by block id: a string for text inputs, user files
   * for file inputs. Returns the bot's answer (e.g. `response_action: 'errors'`); a plain ack
   * closes the view.
   */
  async submitView(user: SlackUser, opened: OpenedView, values: Record<string, string | UserFile[]>, options: DeliveryOptions = {}): Promise<DeliveryResult> {
    const state: Record<string, Record<string, unknown>> = {};
    for (const block of opened.view.blocks ?? []) {
      if (block.type !== 'input') continue;
      const element = block.element as Block;
      const given = values[String(block.block_id)];
      const entry =
        element.type === 'file_input'
          ? { type: 'file_input', files: Array.isArray(given) ? given : [] }
          : { type: element.type, value: typeof given === 'string' ? given : null };
      state[String(block.block_id)] = { [String(element.action_id)]: entry };
    }
    const payload = {
      type: 'view_submission',
      team: { id: this.teamId, domain: 'fakeshop' },
      user: { id: user.id, username: user.name, name: user.name, team_id: this.teamId },
      api_app_id: 'A0FAKE',
      token: 'legacy-verification-token',
      trigger_id: this.newTrigger(),
      view: { ...opened.view, id: opened.id, team_id: this.teamId, state: { values: state }, hash: `h${this.newId()}` },
      response_urls: [],
    };
    const result = await this.deliverInteractive(payload, options);
    const answer = result.body as { response_action?: string; errors?: Record<string, string> } | undefined;
    if (answer?.response_action === 'errors') {
      const inputs = new Set((opened.view.blocks ?? []).filter((b) => b.type === 'input').map((b) => String(b.block_id)));
      for (const key of Object.keys(answer.errors ?? {})) {
        if (!inputs.has(key)) throw new Error(`response_action errors names ${key}, not an input block of the view`);
      }
      opened.errors = answer.errors;
    } else if (result.status === 200) {
      opened.closed = true;
      delete opened.errors;
    }
    return result;
  }

  /** A file a user uploaded to Slack (what a file_input hands the bot). */
  userUploads(name: string, bytes: Buffer, mimetype = 'text/csv'): UserFile {
    const id = `F${this.newId()}`;
    const filetype = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase() ?? 'binary';
    const url = `http://127.0.0.1:${this.port}/files-pri/${this.teamId}-${id}/${encodeURIComponent(name)}`;
    const file: StoredFile = { id, name, title: name, mimetype, filetype, size: bytes.length, url_private: url, url_private_download: `${url}?download=1`, bytes, length: bytes.length };
    this.storedFiles.set(id, file);
    const { bytes: _bytes, length: _length, ...visible } = file;
    return visible;
  }

  /** The request signature Slack would send for `body` at `timestamp` (seconds). */
  sign(body: string, timestamp: number): string {
    return `v0=${createHmac('sha256', this.signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  }

  /** Posts a raw body to the bot's endpoint, signed as asked. */
  async postToBot(body: string, contentType: string, options: DeliveryOptions = {}): Promise<DeliveryResult> {
    if (!this.botUrl) throw new Error('set fake.botUrl to the bot endpoint first');
    const mode = options.signature ?? 'good';
    const now = Math.floor(Date.now() / 1000);
    const timestamp = mode === 'stale' ? now - 6 * 60 : now;
    const headers: Record<string, string> = { 'content-type': contentType };
    if (mode !== 'missing') {
      headers['x-slack-request-timestamp'] = String(timestamp);
      headers['x-slack-signature'] = mode === 'bad' ? this.sign(`${body} `, timestamp) : this.sign(body, timestamp);
    }
    if (options.retryNum !== undefined) {
      headers['x-slack-retry-num'] = String(options.retryNum);
      headers['x-slack-retry-reason'] = options.retryReason ?? 'http_timeout';
    }
    // undici's request on a pool of its own, not fetch: with 50 events at once, fetch's own cost
    // in this process showed up as tens of milliseconds of the bot's "ack time".
    const { origin, pathname } = new URL(this.botUrl);
    const res = await this.toBot.request({ origin, path: pathname, method: 'POST', headers, body });
    const text = await res.body.text();
    return { status: res.statusCode, text, body: parseMaybe(text) };
  }

  /**
   * Sends a Socket Mode envelope on the newest connection; resolves with the bot's ack (status
   * 200) or, after `timeoutMs`, with status 0.
   */
  async sendEnvelope(type: 'events_api' | 'slash_commands' | 'interactive', payload: unknown, options: DeliveryOptions & { timeoutMs?: number } = {}): Promise<DeliveryResult> {
    const ws = [...this.sockets].at(-1);
    if (!ws) throw new Error('no Socket Mode connection');
    const envelopeId = `env-${this.newId()}`;
    const acked = new Promise<SocketAck | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.ackWaiters.delete(envelopeId);
        resolve(undefined);
      }, options.timeoutMs ?? 5_000);
      this.ackWaiters.set(envelopeId, (ack) => {
        clearTimeout(timer);
        resolve(ack);
      });
    });
    ws.send(
      JSON.stringify({
        envelope_id: envelopeId,
        type,
        payload,
        accepts_response_payload: type !== 'events_api',
        ...(type === 'events_api' ? { retry_attempt: options.retryNum ?? 0, retry_reason: options.retryReason ?? '' } : {}),
      }),
    );
    const ack = await acked;
    if (!ack) return { status: 0, body: undefined, text: '' };
    const body = ack.payload && Object.keys(ack.payload).length > 0 ? ack.payload : undefined;
    return { status: 200, body, text: body ? JSON.stringify(body) : '' };
  }

  /** Asks the bot's Socket Mode client to reconnect, as Slack does when recycling a server. */
  disconnectSockets(): void {
    for (const ws of this.sockets) ws.send(JSON.stringify({ type: 'disconnect', reason: 'refresh_requested' }));
  }

  /** A slash command's acknowledgement with content is a message Slack shows. */
  private recordAck(result: DeliveryResult, channel: string, user: string): void {
    const body = (typeof result.body === 'object' && result.body !== null ? result.body : { text: result.text }) as Params;
    const { text, blocks } = checkMessage(body);
    this.messages.push({
      via: 'ack',
      channel,
      ts: this.nextTs(),
      text,
      ...(blocks ? { blocks } : {}),
      ...(body.response_type === 'in_channel' ? {} : { visibleTo: user }),
    });
    this.notify();
  }

  private async deliverInteractive(payload: unknown, options: DeliveryOptions): Promise<DeliveryResult> {
    if ((options.via ?? this.transport) === 'socket') return this.sendEnvelope('interactive', payload, options);
    return this.postToBot(new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), 'application/x-www-form-urlencoded', options);
  }

  private newId(): string {
    this.idCounter += 1;
    return `${this.idCounter.toString(36).toUpperCase()}${randomBytes(3).toString('hex').toUpperCase()}`;
  }

  private newTrigger(): string {
    const id = `${Date.now()}.${this.newId()}`;
    this.triggers.set(id, { id, created: Date.now(), used: false });
    return id;
  }

  private newResponseUrl(channel: string, user: string): string {
    const id = this.newId();
    this.responseUrls.set(id, { id, channel, user, created: Date.now(), uses: 0 });
    return `http://127.0.0.1:${this.port}/response/${id}`;
  }

  private notify(): void {
    for (const wake of [...this.waiters]) wake();
  }

  private onSocket(ws: WebSocket): void {
    this.sockets.add(ws);
    this.notify();
    ws.on('close', () => {
      this.sockets.delete(ws);
      this.notify();
    });
    ws.on('message', (data) => {
      let message: SocketAck;
      try {
        message = JSON.parse((Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)).toString('utf8')) as SocketAck;
      } catch {
        return;
      }
      if (typeof message.envelope_id !== 'string') return;
      this.socketAcks.push(message);
      this.ackWaiters.get(message.envelope_id)?.(message);
      this.ackWaiters.delete(message.envelope_id);
      this.notify();
    });
    ws.send(JSON.stringify({ type: 'hello', num_connections: this.sockets.size, debug_info: { host: 'fake', approximate_connection_time: 18060 }, connection_info: { app_id: 'A0FAKE' } }));
  }

  // ---------------------------------------------------------------- HTTP routes

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    try {
      if (req.method === 'POST' && url.pathname.startsWith('/api/')) return await this.api(url.pathname.slice(5), req, res);
      if (req.method === 'POST' && url.pathname.startsWith('/upload/')) return await this.upload(url.pathname.slice(8), req, res);
      if (req.method === 'POST' && url.pathname.startsWith('/response/')) return await this.respond(url.pathname.slice(10), req, res);
      if (req.method === 'GET' && url.pathname.startsWith('/files-pri/')) return this.download(url.pathname, req, res);
      res.writeHead(404).end();
    } catch (err) {
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: false, error: String(err) }));
    }
  }

  private async api(method: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const params = await readParams(req);
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? str(params.token);
    const { token: _token, ...shown } = params;
    if (this.latencyMs > 0) await sleep(this.latencyMs);
    const send = (status: number, body: Params, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(body));
    };
    const failure = this.failures.get(method)?.shift();
    if (failure) {
      if ('status' in failure) {
        this.calls.push({ method, params: shown, ok: false, status: failure.status, error: failure.status === 429 ? 'ratelimited' : 'http_error' });
        send(failure.status, { ok: false, error: failure.status === 429 ? 'ratelimited' : 'internal_error' }, failure.retryAfter !== undefined ? { 'retry-after': String(failure.retryAfter) } : {});
      } else {
        this.calls.push({ method, params: shown, ok: false, error: failure.error });
        send(200, { ok: false, error: failure.error });
      }
      this.notify();
      return;
    }
    let result: Params;
    try {
      if (method === 'apps.connections.open') {
        if (!auth) throw new ApiError('not_authed');
        if (auth.startsWith('xoxb-')) throw new ApiError('not_allowed_token_type');
        if (auth !== this.appToken) throw new ApiError('invalid_auth');
      } else {
        if (!auth) throw new ApiError('not_authed');
        if (auth.startsWith('xapp-')) throw new ApiError('not_allowed_token_type');
        if (auth !== this.botToken) throw new ApiError('invalid_auth');
      }
      result = this.method(method, params);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      this.calls.push({ method, params: shown, ok: false, error: err.message });
      send(200, { ok: false, error: err.message });
      this.notify();
      return;
    }
    this.calls.push({ method, params: shown, ok: true });
    send(200, { ok: true, ...result });
    this.notify();
  }

  private method(method: string, p: Params): Params {
    switch (method) {
      case 'auth.test':
        return { url: 'https://fakeshop.slack.com/', team: 'Fake Shop', user: 'asyntai', team_id: this.teamId, user_id: this.botUserId, bot_id: this.botId, is_enterprise_install: false };
      case 'apps.connections.open': {
        const ticket = randomBytes(12).toString('hex');
        this.tickets.add(ticket);
        return { url: `ws://127.0.0.1:${this.port}/link/?ticket=${ticket}&app_id=A0FAKE` };
      }
      case 'chat.postMessage': {
        const channel = required(p, 'channel');
        const { text, blocks } = checkMessage(p);
        const ts = this.nextTs();
        const threadTs = str(p.thread_ts);
        this.messages.push({ via: 'chat.postMessage', channel, ts, text, ...(blocks ? { blocks } : {}), ...(threadTs ? { thread_ts: threadTs } : {}) });
        return { channel, ts, message: { type: 'message', user: this.botUserId, bot_id: this.botId, text, ts, ...(threadTs ? { thread_ts: threadTs } : {}) } };
      }
      case 'chat.postEphemeral': {
        const channel = required(p, 'channel');
        const user = required(p, 'user');
        const { text, blocks } = checkMessage(p);
        const ts = this.nextTs();
        const threadTs = str(p.thread_ts);
        this.messages.push({ via: 'chat.postEphemeral', channel, ts, text, visibleTo: user, ...(blocks ? { blocks } : {}), ...(threadTs ? { thread_ts: threadTs } : {}) });
        return { message_ts: ts };
      }
      case 'conversations.open': {
        const users = required(p, 'users');
        if (users.includes(',')) throw new ApiError('not_supported_in_this_fake');
        return { channel: { id: `D${users.replace(/^U/, '')}` } };
      }
      case 'reactions.add': {
        const key = `${required(p, 'channel')}/${required(p, 'timestamp')}/${required(p, 'name')}`;
        if (this.reactions.has(key)) throw new ApiError('already_reacted');
        this.reactions.add(key);
        this.reactionsAdded.push(key);
        return {};
      }
      case 'reactions.remove': {
        const key = `${required(p, 'channel')}/${required(p, 'timestamp')}/${required(p, 'name')}`;
        if (!this.reactions.delete(key)) throw new ApiError('no_reaction');
        return {};
      }
      case 'views.open': {
        const triggerId = required(p, 'trigger_id');
        const trigger = this.triggers.get(triggerId);
        if (!trigger) throw new ApiError('invalid_trigger_id');
        if (trigger.used || Date.now() - trigger.created > TRIGGER_TTL_MS) throw new ApiError('expired_trigger_id');
        trigger.used = true;
        const view = decoded<View>(p.view);
        if (!view) throw new ApiError('invalid_arguments');
        checkView(view);
        const opened: OpenedView = { id: `V${this.newId()}`, trigger_id: triggerId, view, closed: false };
        this.views.push(opened);
        return { view: { ...view, id: opened.id, team_id: this.teamId, state: { values: {} }, hash: `h${this.newId()}` } };
      }
      case 'files.getUploadURLExternal': {
        const filename = required(p, 'filename');
        const length = Number(required(p, 'length'));
        if (!Number.isInteger(length) || length < 1) throw new ApiError('invalid_arguments');
        const id = `F${this.newId()}`;
        const url = `http://127.0.0.1:${this.port}/files-pri/${this.teamId}-${id}/${encodeURIComponent(filename)}`;
        this.storedFiles.set(id, { id, name: filename, title: filename, mimetype: 'application/octet-stream', filetype: 'binary', size: length, url_private: url, url_private_download: url, bytes: undefined, length });
        return { upload_url: `http://127.0.0.1:${this.port}/upload/${id}`, file_id: id };
      }
      case 'files.completeUploadExternal': {
        const list = decoded<Array<{ id: string; title?: string }>>(p.files);
        if (!Array.isArray(list) || list.length === 0) throw new ApiError('invalid_arguments');
        const channel = str(p.channel_id);
        const done = list.map((f) => {
          const stored = this.storedFiles.get(f.id);
          if (!stored?.bytes) throw new ApiError('file_not_found');
          if (f.title) stored.title = f.title;
          return stored;
        });
        if (channel) {
          for (const f of done) {
            this.files.push({
              id: f.id,
              name: f.name,
              title: f.title,
              channel,
              bytes: f.bytes!,
              ...(str(p.thread_ts) ? { thread_ts: str(p.thread_ts)! } : {}),
              ...(str(p.initial_comment) ? { initial_comment: str(p.initial_comment)! } : {}),
            });
          }
        }
        return { files: done.map(({ bytes: _b, length: _l, ...f }) => f) };
      }
      case 'files.info': {
        const file = this.storedFiles.get(required(p, 'file'));
        if (!file) throw new ApiError('file_not_found');
        const { bytes: _b, length: _l, ...visible } = file;
        return { file: visible };
      }
      default:
        throw new ApiError('unknown_method');
    }
  }

  private async upload(fileId: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const file = this.storedFiles.get(fileId);
    if (!file || file.bytes) {
      res.writeHead(404).end();
      return;
    }
    const type = req.headers['content-type'] ?? '';
    const bytes = type.startsWith('multipart/form-data') ? await readMultipartFile(req) : await readRaw(req);
    if (bytes.length !== file.length) {
      res.writeHead(400).end(`length mismatch: announced ${file.length}, got ${bytes.length}`);
      return;
    }
    file.bytes = bytes;
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`OK - ${bytes.length}`);
  }

  private async respond(id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = this.responseUrls.get(id);
    const raw = (await readRaw(req)).toString('utf8');
    if (!target || Date.now() - target.created > RESPONSE_URL_TTL_MS) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('expired_url');
      return;
    }
    if (target.uses >= RESPONSE_URL_USES) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('used_url');
      return;
    }
    const body = parseMaybe(raw) as Params | undefined;
    if (!body || typeof body !== 'object') {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('invalid_payload');
      return;
    }
    let checked: { text: string; blocks: Block[] | undefined };
    try {
      checked = body.delete_original === true ? { text: '', blocks: undefined } : checkMessage(body);
    } catch (err) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(err instanceof Error ? err.message : 'invalid');
      return;
    }
    target.uses += 1;
    const ephemeral = body.response_type !== 'in_channel';
    this.messages.push({
      via: 'response_url',
      channel: target.channel,
      ts: this.nextTs(),
      text: checked.text,
      ...(checked.blocks ? { blocks: checked.blocks } : {}),
      ...(ephemeral ? { visibleTo: target.user } : {}),
      ...(body.replace_original === true ? { replaceOriginal: true } : {}),
      ...(body.delete_original === true ? { deleteOriginal: true } : {}),
      responseUrl: id,
    });
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    this.notify();
  }

  private download(path: string, req: IncomingMessage, res: ServerResponse): void {
    const id = /^\/files-pri\/[^-/]+-([^/]+)\//.exec(path)?.[1] ?? '';
    const file = this.storedFiles.get(id);
    const authorized = req.headers.authorization === `Bearer ${this.botToken}`;
    this.downloads.push({ fileId: id, authorized });
    this.notify();
    if (!file?.bytes) {
      res.writeHead(404).end();
      return;
    }
    if (!authorized) {
      // Slack answers a login page, not the file, when the token is missing.
      res.writeHead(403, { 'content-type': 'text/html' }).end('<html><body>Sign in to Slack</body></html>');
      return;
    }
    res.writeHead(200, { 'content-type': file.mimetype, 'content-length': String(file.bytes.length) }).end(file.bytes);
  }
}

/** Starts a fake Slack on a free loopback port. */
export function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  return FakeSlack.start(options);
}

function required(p: Params, name: string): string {
  const value = str(p[name]);
  if (value === undefined || value === '') throw new ApiError(name === 'channel' ? 'channel_not_found' : 'invalid_arguments');
  return value;
}

/** Text and blocks as Slack checks them on chat.postMessage / postEphemeral / response_url. */
function checkMessage(p: Params): { text: string; blocks: Block[] | undefined } {
  const text = str(p.text) ?? '';
  const blocks = p.blocks === undefined ? undefined : decoded<Block[]>(p.blocks);
  if (p.blocks !== undefined && !Array.isArray(blocks)) throw new ApiError('invalid_blocks_format');
  if (text === '' && (!blocks || blocks.length === 0)) throw new ApiError('no_text');
  if (text.length > TEXT_LIMIT) throw new ApiError('msg_too_long');
  if (blocks) {
    if (blocks.length > MAX_BLOCKS) throw new ApiError('invalid_blocks');
    for (const block of blocks) {
      if (block.type === 'section' && textOf(block.text).length > SECTION_TEXT_LIMIT) throw new ApiError('invalid_blocks');
    }
  }
  return { text, blocks };
}

/** The modal limits that a bridge could plausibly break. */
function checkView(view: View): void {
  const title = textOf(view.title);
  if (view.type !== 'modal' || title === '' || title.length > 24) throw new ApiError('invalid_arguments');
  if (typeof view.private_metadata === 'string' && view.private_metadata.length > 3_000) throw new ApiError('invalid_arguments');
  const blocks = view.blocks ?? [];
  if (blocks.length === 0 || blocks.length > 100) throw new ApiError('invalid_arguments');
  const ids = new Set<string>();
  for (const block of blocks) {
    if (block.type !== 'input') continue;
    const id = str(block.block_id) ?? '';
    if (id === '' || ids.has(id)) throw new ApiError('invalid_arguments');
    ids.add(id);
    const element = block.element as Block | undefined;
    if (!element || textOf(block.label).length > 2_000) throw new ApiError('invalid_arguments');
    if (element.type === 'plain_text_input') {
      const max = element.max_length as number | undefined;
      const min = element.min_length as number | undefined;
      if ((max !== undefined && (max < 1 || max > 3_000)) || (min !== undefined && (min < 0 || min > 3_000))) throw new ApiError('invalid_arguments');
    }
  }
  if (ids.size > 0 && textOf(view.submit) === '') throw new ApiError('invalid_arguments');
}

async function readRaw(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Web API parameters from a form, JSON or multipart body. */
async function readParams(req: IncomingMessage): Promise<Params> {
  const type = req.headers['content-type'] ?? '';
  if (type.startsWith('multipart/form-data')) {
    const params: Params = {};
    await new Promise<void>((resolve, reject) => {
      const bb = busboy({ headers: req.headers });
      bb.on('field', (name, value) => (params[name] = value));
      bb.on('file', (name, stream) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => (params[name] = Buffer.concat(chunks)));
      });
      bb.on('close', resolve);
      bb.on('error', reject);
      req.pipe(bb);
    });
    return params;
  }
  const raw = (await readRaw(req)).toString('utf8');
  if (type.startsWith('application/json')) return (parseMaybe(raw) as Params | undefined) ?? {};
  return Object.fromEntries(new URLSearchParams(raw));
}

/** The first file part of a multipart upload (WebClient posts the bytes as a form field). */
async function readMultipartFile(req: IncomingMessage): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const bb = busboy({ headers: req.headers });
    let found: Buffer | undefined;
    bb.on('file', (_name, stream) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => (found ??= Buffer.concat(chunks)));
    });
    bb.on('close', () => resolve(found ?? Buffer.alloc(0)));
    bb.on('error', reject);
    req.pipe(bb);
  });
}

function parseMaybe(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
