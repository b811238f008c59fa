/**
 * A loopback fake of Discord for end-to-end tests through the real discord.js client: the REST API
 * under `http://127.0.0.1:<port>/api` (discord.js `rest.api`; requests go to `/api/v10/...`), the
 * gateway WebSocket on the same port (discord-gateway.ts), and a CDN-like route for attachment
 * downloads. It records what the bot did (messages, interaction callbacks, webhook edits and
 * follow-ups, typing, threads, DMs, command registrations), validates like Discord where our bugs
 * would show (2,000-character content → 400 code 50035; an interaction acknowledged twice, a modal
 * after a defer, or a first response after 3 s → Discord's errors), and plays users: messages in
 * guild channels, DMs and threads, replies, slash commands, autocomplete, modals and buttons.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import busboy from 'busboy';
import { FakeGateway } from './discord-gateway.js';

export type { RecordedIdentify, RecordedResume } from './discord-gateway.js';

/** Discord's limit on a message's `content`. */
export const DISCORD_CONTENT_LIMIT = 2000;
/** Discord's permission bit "Manage Server". */
export const MANAGE_GUILD = 1n << 5n;
/** View Channels, Send Messages, Read Message History: what @everyone gets in the fake guild. */
const EVERYONE_PERMISSIONS = (1n << 10n) | (1n << 11n) | (1n << 16n);
/** Guilds, GuildMessages, DirectMessages, MessageContent: all the bot may ask for by default. */
const DEFAULT_ALLOWED_INTENTS = (1 << 0) | (1 << 9) | (1 << 12) | (1 << 15);
const DISCORD_EPOCH = 1420070400000n;

/** A user the tests play. */
export interface FakeUser {
  id: string;
  username: string;
  bot?: boolean;
  /** Role ids this user has in the fake guild. */
  roles?: string[];
  /** Display name across Discord (`global_name`); default the username (null for bots). */
  globalName?: string;
  /** Server nickname in the fake guild (`member.nick`); default none. */
  nick?: string;
}

export interface FakeRole {
  id: string;
  name: string;
  permissions: bigint;
}

export interface FakeDiscordOptions {
  /** Default `fake-discord-token.<random>`. */
  token?: string;
  botId?: string;
  botUsername?: string;
  /** Intent bits the portal allows; default Guilds, GuildMessages, DirectMessages, MessageContent. */
  allowedIntents?: number;
  /** Announced in HELLO; default 41,250 ms as Discord. */
  heartbeatIntervalMs?: number;
  /** A first interaction response later than this is refused as Discord does (10062); default 3,000 ms. */
  interactionDeadlineMs?: number;
}

/** One REST request as the fake received it. `seq` orders it against every other record. */
export interface RecordedRequest {
  seq: number;
  method: string;
  /** The route after `/api/v10`, query string included. */
  path: string;
  status: number;
}

/** A file the bot uploaded. */
export interface UploadedFile {
  name: string;
  contentType: string | undefined;
  data: Buffer;
}

/** A message the bot created or edited, through any route. */
export interface SentMessage {
  seq: number;
  /** How it was sent: a channel message, an interaction's first response (callback type 4 or 7), the edit of `@original`, or a follow-up. */
  via: 'channel' | 'callback' | 'original' | 'followup';
  id: string;
  channel_id: string;
  content: string;
  /** 64 = ephemeral. */
  flags: number;
  allowed_mentions: unknown;
  message_reference: { message_id?: string; channel_id?: string; fail_if_not_exists?: boolean } | undefined;
  components: unknown[] | undefined;
  files: UploadedFile[];
  interactionId: string | undefined;
  /** The message object as returned to the bot (reply to it with `userSends({ replyTo })`). */
  message: ApiMessage;
}

/** An interaction response callback (`POST /interactions/{id}/{token}/callback`). */
export interface RecordedCallback {
  seq: number;
  type: number;
  data: Record<string, unknown> | undefined;
}

/** An interaction the fake dispatched, with everything the bot answered to it. */
export interface FakeInteraction {
  id: string;
  token: string;
  type: number;
  payload: Record<string, unknown>;
  callbacks: RecordedCallback[];
  /** Messages through `@original` edits and follow-ups (and a type 4/7 callback's message). */
  messages: SentMessage[];
}

/** A bulk overwrite of application commands. */
export interface CommandPut {
  seq: number;
  guildId: string | undefined;
  body: Array<Record<string, unknown>>;
}

export interface ThreadStart {
  seq: number;
  channelId: string;
  messageId: string;
  name: string;
}

type ApiMessage = Record<string, unknown> & { id: string; channel_id: string; content: string };
type ApiChannel = Record<string, unknown> & { id: string; type: number; guild_id?: string };

interface InteractionState extends FakeInteraction {
  createdAt: number;
  acknowledged: boolean;
  deferred: boolean;
  /** The message `@original` names, once there is one. */
  original: ApiMessage | undefined;
  /** For a component interaction: the message the component is on (`@original` before any answer). */
  sourceMessage: ApiMessage | undefined;
  channelId: string;
}

interface InjectedFailure {
  count: number;
  status: number;
  retryAfterSeconds: number;
  route: RegExp | undefined;
}

/** What the test controls and inspects; see {@link startFakeDiscord}. */
export interface FakeDiscord {
  /** `rest.api` for discord.js. */
  readonly apiUrl: string;
  readonly token: string;
  readonly bot: FakeUser;
  readonly applicationId: string;
  readonly guildId: string;
  /** Text channel `general` and a second one, `support`. */
  readonly channels: { general: string; support: string };
  readonly roles: { everyone: string; moderators: string; team: string };
  readonly gateway: FakeGateway;
  readonly requests: RecordedRequest[];
  readonly sent: SentMessage[];
  readonly typing: Array<{ seq: number; channelId: string }>;
  readonly threadsStarted: ThreadStart[];
  readonly dmChannelsOpened: Array<{ seq: number; recipientId: string; channelId: string }>;
  readonly commandPuts: CommandPut[];
  /** `@original` messages the bot deleted. */
  readonly deleted: Array<{ seq: number; interactionId: string; messageId: string }>;
  readonly interactions: FakeInteraction[];
  /** The commands currently registered: global (`undefined`) or per guild id. */
  commands(guildId?: string): Array<Record<string, unknown>>;
  /** The DM channel id between `user` and the bot (created on first use). */
  dmChannelOf(user: FakeUser): string;
  /** A user sends a message (and the gateway dispatches MESSAGE_CREATE). */
  userSends(input: UserMessageInput): ApiMessage;
  /** A user creates a public thread in a text channel (THREAD_CREATE); returns its id. */
  userCreatesThread(input: { author: FakeUser; channelId: string; name: string }): string;
  /** A user runs a slash command (INTERACTION_CREATE type 2). */
  runCommand(input: CommandInput): FakeInteraction;
  /** A user types into an autocomplete option (type 4); `focused` names the option being typed. */
  autocomplete(input: CommandInput & { focused: string }): FakeInteraction;
  /** A user submits a modal the bot opened (type 5). */
  submitModal(input: { user: FakeUser; channelId?: string; customId: string; fields: Record<string, string> }): FakeInteraction;
  /** A user clicks a button on a message the bot sent (type 3). */
  clickButton(input: { user: FakeUser; message: SentMessage; customId: string }): FakeInteraction;
  /** Registers a file on the fake CDN and returns the attachment object a message or option carries. */
  attachment(name: string, data: Buffer, contentType?: string): Record<string, unknown>;
  /** The next `count` REST requests (matching `route`, if given) answer `status`; 429 carries Retry-After. */
  failNext(count: number, status: number, options?: { retryAfterSeconds?: number; route?: RegExp }): void;
  /** Resolves when `check` holds (re-checked after each request and gateway event, and every 50 ms). */
  waitFor(check: () => boolean, timeoutMs?: number): Promise<void>;
  /** Forgets what was recorded (messages, callbacks, requests), keeping state (commands, channels). */
  clearRecords(): void;
  close(): Promise<void>;
}

export interface UserMessageInput {
  author: FakeUser;
  /** A guild text channel or thread id; omit for the author's DM with the bot. */
  channelId?: string;
  content: string;
  /** A message (the bot's, as `SentMessage.message`, or a user's) this one replies to. */
  replyTo?: ApiMessage;
  attachments?: Array<Record<string, unknown>>;
  /** Sent by a webhook rather than a user. */
  webhook?: boolean;
}

export interface CommandInput {
  user: FakeUser;
  /** A guild channel or thread id; omit for the user's DM with the bot. */
  channelId?: string;
  name: string;
  /** Option values by name; a Buffer-free attachment object (from `attachment()`) for attachment options. */
  options?: Record<string, string | number | Record<string, unknown>>;
}

/** Starts the fake on 127.0.0.1, port 0. */
export async function startFakeDiscord(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  let counter = 0n;
  const snowflake = (): string => String(((BigInt(Date.now()) - DISCORD_EPOCH) << 22n) | (counter++ & 0x3fffffn));
  let seq = 0;
  const nextSeq = (): number => ++seq;

  const token = options.token ?? `fake-discord-token.${randomBytes(6).toString('hex')}`;
  const bot: FakeUser = { id: options.botId ?? snowflake(), username: options.botUsername ?? 'asyntai-test-bot', bot: true };
  const applicationId = bot.id;
  const guildId = snowflake();
  const roles = { everyone: guildId, moderators: snowflake(), team: snowflake() };
  const roleList: FakeRole[] = [
    { id: roles.everyone, name: '@everyone', permissions: EVERYONE_PERMISSIONS },
    { id: roles.moderators, name: 'Moderators', permissions: EVERYONE_PERMISSIONS | MANAGE_GUILD },
    { id: roles.team, name: 'Team', permissions: EVERYONE_PERMISSIONS },
  ];
  const ownerId = snowflake();
  const channelMap = new Map<string, ApiChannel>();
  const general: ApiChannel = { id: snowflake(), type: 0, guild_id: guildId, name: 'general', position: 0, permission_overwrites: [], parent_id: null };
  const support: ApiChannel = { id: snowflake(), type: 0, guild_id: guildId, name: 'support', position: 1, permission_overwrites: [], parent_id: null };
  channelMap.set(general.id, general);
  channelMap.set(support.id, support);
  const dmByUser = new Map<string, string>();
  const messages = new Map<string, ApiMessage>();
  const cdn = new Map<string, { data: Buffer; contentType: string | undefined }>();
  const registered = new Map<string, Array<Record<string, unknown>>>();
  const interactionStates = new Map<string, InteractionState>();
  const deadlineMs = options.interactionDeadlineMs ?? 3000;
  let failure: InjectedFailure | undefined;

  const requests: RecordedRequest[] = [];
  const sent: SentMessage[] = [];
  const typing: FakeDiscord['typing'] = [];
  const threadsStarted: ThreadStart[] = [];
  const dmChannelsOpened: FakeDiscord['dmChannelsOpened'] = [];
  const commandPuts: CommandPut[] = [];
  const deleted: FakeDiscord['deleted'] = [];
  const interactions: FakeInteraction[] = [];
  const waiters = new Set<() => void>();
  const wake = (): void => {
    for (const waiter of [...waiters]) waiter();
  };

  const apiUser = (u: FakeUser): Record<string, unknown> => ({
    id: u.id,
    username: u.username,
    discriminator: '0',
    global_name: u.globalName ?? (u.bot ? null : u.username),
    avatar: null,
    ...(u.bot ? { bot: true } : {}),
  });
  const memberPermissions = (u: FakeUser): bigint => {
    if (u.id === ownerId) return (1n << 41n) - 1n;
    return roleList.filter((r) => r.id === roles.everyone || u.roles?.includes(r.id)).reduce((acc, r) => acc | r.permissions, 0n);
  };
  const apiMember = (u: FakeUser): Record<string, unknown> => ({
    roles: u.roles ?? [],
    joined_at: new Date(0).toISOString(),
    deaf: false,
    mute: false,
    flags: 0,
    nick: u.nick ?? null,
    avatar: null,
  });

  function dmChannelOf(user: FakeUser): string {
    let id = dmByUser.get(user.id);
    if (!id) {
      id = snowflake();
      dmByUser.set(user.id, id);
      channelMap.set(id, { id, type: 1, recipients: [apiUser(user)], last_message_id: null });
    }
    return id;
  }

  function guildCreate(): Record<string, unknown> {
    return {
      id: guildId,
      name: 'Fake shop',
      icon: null,
      owner_id: ownerId,
      unavailable: false,
      member_count: 3,
      large: false,
      features: [],
      emojis: [],
      stickers: [],
      roles: roleList.map((r, i) => ({
        id: r.id, name: r.name, permissions: String(r.permissions), position: i, color: 0, hoist: false, managed: false, mentionable: true, flags: 0,
      })),
      channels: [...channelMap.values()].filter((c) => c.guild_id === guildId && c.type === 0).map(({ guild_id: _g, ...c }) => c),
      threads: [...channelMap.values()].filter((c) => c.type === 11),
      members: [{ ...apiMember(bot), user: apiUser(bot) }],
      presences: [],
      voice_states: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
      joined_at: new Date(0).toISOString(),
      preferred_locale: 'en-US',
      premium_tier: 0,
      system_channel_flags: 0,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      mfa_level: 0,
      nsfw_level: 0,
    };
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, { message: String(err), code: 0 });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}`;

  const gateway = new FakeGateway(
    {
      token,
      allowedIntents: options.allowedIntents ?? DEFAULT_ALLOWED_INTENTS,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 41_250,
      ready: (sessionId, resumeUrl) => ({
        v: 10,
        user: { ...apiUser(bot), verified: true, mfa_enabled: false, flags: 0 },
        guilds: [{ id: guildId, unavailable: true }],
        session_id: sessionId,
        resume_gateway_url: resumeUrl,
        application: { id: applicationId, flags: 0 },
        private_channels: [],
        shard: [0, 1],
      }),
      guilds: () => [guildCreate()],
      onEvent: () => wake(),
    },
    server,
    () => `ws://127.0.0.1:${port}`,
  );

  function json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, {
      'content-type': 'application/json',
      'x-ratelimit-limit': '5',
      'x-ratelimit-remaining': '4',
      'x-ratelimit-reset-after': '1.000',
      'x-ratelimit-bucket': 'fake-bucket',
    });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  }
  function noContent(res: ServerResponse): void {
    res.writeHead(204, { 'x-ratelimit-limit': '5', 'x-ratelimit-remaining': '4', 'x-ratelimit-reset-after': '1.000' }).end();
  }
  const error = (res: ServerResponse, status: number, code: number, message: string, errors?: unknown): void =>
    json(res, status, { message, code, ...(errors ? { errors } : {}) });

  /** The JSON body, or a multipart body's `payload_json` plus its files. */
  async function readPayload(req: IncomingMessage): Promise<{ body: Record<string, unknown>; files: UploadedFile[] }> {
    const type = req.headers['content-type'] ?? '';
    if (type.startsWith('multipart/form-data')) {
      return new Promise((resolve, reject) => {
        const files: UploadedFile[] = [];
        let body: Record<string, unknown> = {};
        const bb = busboy({ headers: req.headers });
        bb.on('field', (name, value) => {
          if (name === 'payload_json') body = JSON.parse(value) as Record<string, unknown>;
        });
        bb.on('file', (_name, stream, info) => {
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => files.push({ name: info.filename ?? 'file', contentType: info.mimeType, data: Buffer.concat(chunks) }));
        });
        bb.on('close', () => resolve({ body, files }));
        bb.on('error', reject);
        req.pipe(bb);
      });
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    return { body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, files: [] };
  }

  /** Discord's checks on a message body: not empty, content ≤ 2,000. Returns the error sent, if any. */
  function invalidMessage(res: ServerResponse, body: Record<string, unknown>, files: UploadedFile[]): boolean {
    const content = typeof body.content === 'string' ? body.content : '';
    if (content.length > DISCORD_CONTENT_LIMIT) {
      error(res, 400, 50035, 'Invalid Form Body', {
        content: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: `Must be ${DISCORD_CONTENT_LIMIT} or fewer in length.` }] },
      });
      return true;
    }
    const hasComponents = Array.isArray(body.components) && body.components.length > 0;
    const hasEmbeds = Array.isArray(body.embeds) && body.embeds.length > 0;
    if (content.trim() === '' && files.length === 0 && !hasComponents && !hasEmbeds) {
      error(res, 400, 50006, 'Cannot send an empty message');
      return true;
    }
    return false;
  }

  function makeMessage(input: {
    channelId: string; author: FakeUser; content: string; flags?: number; files?: UploadedFile[]; components?: unknown[];
    reference?: ApiMessage; webhookId?: string; applicationId?: string;
  }): ApiMessage {
    const channel = channelMap.get(input.channelId);
    const attachments = (input.files ?? []).map((f) => makeAttachment(f.name, f.data, f.contentType));
    const message: ApiMessage = {
      id: snowflake(),
      channel_id: input.channelId,
      ...(channel?.guild_id ? { guild_id: channel.guild_id } : {}),
      author: apiUser(input.author),
      content: input.content,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments,
      embeds: [],
      pinned: false,
      type: input.reference ? 19 : 0,
      flags: input.flags ?? 0,
      components: input.components ?? [],
      ...(input.reference
        ? { message_reference: { type: 0, message_id: input.reference.id, channel_id: input.reference.channel_id }, referenced_message: input.reference }
        : {}),
      ...(input.webhookId ? { webhook_id: input.webhookId } : {}),
      ...(input.applicationId ? { application_id: input.applicationId } : {}),
    };
    messages.set(message.id, message);
    return message;
  }

  function makeAttachment(name: string, data: Buffer, contentType?: string): Record<string, unknown> {
    const id = snowflake();
    cdn.set(`${id}/${name}`, { data, contentType });
    const url = `${base}/attachments/${id}/${encodeURIComponent(name)}`;
    return { id, filename: name, size: data.length, url, proxy_url: url, ...(contentType ? { content_type: contentType } : {}) };
  }

  function record(input: Omit<SentMessage, 'seq' | 'id' | 'channel_id' | 'content'>): SentMessage {
    const entry: SentMessage = { seq: nextSeq(), id: input.message.id, channel_id: input.message.channel_id, content: input.message.content, ...input };
    sent.push(entry);
    return entry;
  }

  function sentFields(body: Record<string, unknown>, files: UploadedFile[]) {
    return {
      flags: typeof body.flags === 'number' ? body.flags : 0,
      allowed_mentions: body.allowed_mentions,
      message_reference: body.message_reference as SentMessage['message_reference'],
      components: body.components as unknown[] | undefined,
      files,
    };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', base);
    const method = req.method ?? 'GET';
    if (method === 'GET' && url.pathname.startsWith('/attachments/')) {
      const file = cdn.get(url.pathname.slice('/attachments/'.length).split('/').map(decodeURIComponent).join('/'));
      if (!file) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': file.contentType ?? 'application/octet-stream', 'content-length': file.data.length });
      return void res.end(file.data);
    }
    if (!url.pathname.startsWith('/api/v10/')) return error(res, 404, 0, '404: Not Found');
    // discord.js percent-encodes `@original`.
    const path = decodeURIComponent(url.pathname.slice('/api/v10'.length));
    const entry: RecordedRequest = { seq: nextSeq(), method, path: path + url.search, status: 0 };
    requests.push(entry);
    const origEnd = res.end.bind(res);
    res.end = ((...args: Parameters<ServerResponse['end']>) => {
      entry.status = res.statusCode;
      const out = origEnd(...args);
      wake();
      return out;
    }) as ServerResponse['end'];

    if (failure && failure.count > 0 && (!failure.route || failure.route.test(`${method} ${path}`))) {
      failure.count -= 1;
      for await (const _ of req) void _;
      if (failure.status === 429) {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': String(failure.retryAfterSeconds), 'x-ratelimit-scope': 'user' });
        return void res.end(JSON.stringify({ message: 'You are being rate limited.', retry_after: failure.retryAfterSeconds, global: false }));
      }
      return error(res, failure.status, 0, `injected failure (HTTP ${failure.status})`);
    }

    // Interaction callbacks and webhook routes authenticate by the interaction token, not the bot token.
    const isWebhook = path.startsWith('/interactions/') || path.startsWith('/webhooks/');
    if (!isWebhook && req.headers.authorization !== `Bot ${token}`) return error(res, 401, 0, '401: Unauthorized');

    const { body, files } = method === 'GET' || method === 'DELETE' ? { body: {}, files: [] } : await readPayload(req);
    let m: RegExpMatchArray | null;

    if (method === 'GET' && path === '/gateway/bot') {
      return json(res, 200, {
        url: `ws://127.0.0.1:${port}`,
        shards: 1,
        session_start_limit: { total: 1000, remaining: 999, reset_after: 86_400_000, max_concurrency: 1 },
      });
    }
    if (method === 'GET' && path === '/users/@me') return json(res, 200, { ...apiUser(bot), verified: true, flags: 0 });
    if (method === 'POST' && path === '/users/@me/channels') {
      const recipientId = String(body.recipient_id);
      const channelId = dmChannelOf({ id: recipientId, username: `user-${recipientId}` });
      dmChannelsOpened.push({ seq: nextSeq(), recipientId, channelId });
      return json(res, 200, channelMap.get(channelId));
    }
    if ((m = path.match(/^\/channels\/(\d+)$/)) && method === 'GET') {
      const channel = channelMap.get(m[1]!);
      return channel ? json(res, 200, channel) : error(res, 404, 10003, 'Unknown Channel');
    }
    if ((m = path.match(/^\/channels\/(\d+)\/typing$/)) && method === 'POST') {
      typing.push({ seq: nextSeq(), channelId: m[1]! });
      return noContent(res);
    }
    if ((m = path.match(/^\/channels\/(\d+)\/messages$/)) && method === 'POST') {
      const channelId = m[1]!;
      if (!channelMap.has(channelId)) return error(res, 404, 10003, 'Unknown Channel');
      if (invalidMessage(res, body, files)) return;
      const refId = (body.message_reference as { message_id?: string } | undefined)?.message_id;
      const message = makeMessage({
        channelId, author: bot, content: textOf(body.content), files, components: body.components as unknown[] | undefined,
        ...(refId && messages.has(refId) ? { reference: messages.get(refId)! } : {}),
      });
      record({ via: 'channel', ...sentFields(body, files), interactionId: undefined, message });
      return json(res, 200, message);
    }
    if ((m = path.match(/^\/channels\/(\d+)\/messages\/(\d+)\/threads$/)) && method === 'POST') {
      const [, channelId, messageId] = m as unknown as [string, string, string];
      const parent = channelMap.get(channelId);
      if (!parent || parent.type !== 0) return error(res, 400, 50024, 'Cannot execute action on this channel type');
      if (channelMap.has(messageId)) return error(res, 400, 160004, 'A thread has already been created for this message');
      const name = textOf(body.name);
      if (name.length < 1 || name.length > 100) return error(res, 400, 50035, 'Invalid Form Body', { name: { _errors: [{ code: 'BASE_TYPE_BAD_LENGTH' }] } });
      // A thread started from a message has the message's id.
      const thread = threadChannel(messageId, channelId, name, bot.id);
      threadsStarted.push({ seq: nextSeq(), channelId, messageId, name });
      gateway.dispatch('THREAD_CREATE', { ...thread, newly_created: true });
      return json(res, 201, thread);
    }
    if ((m = path.match(/^\/applications\/(\d+)(?:\/guilds\/(\d+))?\/commands$/))) {
      if (m[1] !== applicationId) return error(res, 403, 50001, 'Missing Access');
      const key = m[2] ?? '';
      if (method === 'GET') return json(res, 200, registered.get(key) ?? []);
      if (method === 'PUT') {
        const list = Array.isArray(body) ? (body as Array<Record<string, unknown>>) : [];
        commandPuts.push({ seq: nextSeq(), guildId: m[2], body: list });
        const problem = list.map(commandProblem).find(Boolean);
        if (problem) return error(res, 400, 50035, 'Invalid Form Body', { _errors: [{ code: 'APPLICATION_COMMAND_INVALID', message: problem }] });
        const stored = list.map((c) => storedCommand(c, applicationId, m![2]));
        registered.set(key, stored);
        return json(res, 200, stored);
      }
    }
    if ((m = path.match(/^\/interactions\/(\d+)\/([^/]+)\/callback$/)) && method === 'POST') {
      return interactionCallback(res, m[1]!, m[2]!, body, files, url.searchParams.get('with_response') === 'true');
    }
    if ((m = path.match(/^\/webhooks\/(\d+)\/([^/]+)\/messages\/@original$/))) {
      const state = [...interactionStates.values()].find((s) => s.token === m![2]);
      if (!state || m[1] !== applicationId) return error(res, 404, 10015, 'Unknown Webhook');
      const target = state.original ?? state.sourceMessage;
      if (!state.acknowledged || !target) return error(res, 404, 10008, 'Unknown Message');
      if (method === 'PATCH') {
        if (invalidMessage(res, { content: target.content, ...body }, files)) return;
        const edited: ApiMessage = {
          ...target,
          ...(body.content !== undefined ? { content: textOf(body.content) } : {}),
          ...(body.components !== undefined ? { components: body.components } : {}),
          ...(files.length > 0 ? { attachments: files.map((f) => makeAttachment(f.name, f.data, f.contentType)) } : {}),
          edited_timestamp: new Date().toISOString(),
        };
        messages.set(edited.id, edited);
        if (state.original) state.original = edited;
        else state.sourceMessage = edited;
        state.messages.push(record({ via: 'original', ...sentFields({ flags: target.flags, ...body }, files), interactionId: state.id, message: edited }));
        return json(res, 200, edited);
      }
      if (method === 'GET') return json(res, 200, target);
      if (method === 'DELETE') {
        messages.delete(target.id);
        deleted.push({ seq: nextSeq(), interactionId: state.id, messageId: target.id });
        return noContent(res);
      }
    }
    if ((m = path.match(/^\/webhooks\/(\d+)\/([^/]+)$/)) && method === 'POST') {
      const state = [...interactionStates.values()].find((s) => s.token === m![2]);
      if (!state || m[1] !== applicationId) return error(res, 404, 10015, 'Unknown Webhook');
      if (!state.acknowledged) return error(res, 400, 10015, 'Unknown Webhook');
      if (invalidMessage(res, body, files)) return;
      const message = makeMessage({
        channelId: state.channelId, author: bot, content: textOf(body.content), flags: typeof body.flags === 'number' ? body.flags : 0,
        files, components: body.components as unknown[] | undefined, webhookId: applicationId, applicationId,
      });
      state.messages.push(record({ via: 'followup', ...sentFields(body, files), interactionId: state.id, message }));
      return json(res, 200, message);
    }
    return error(res, 404, 0, `fake Discord: no route for ${method} ${path}`);
  }

  function interactionCallback(
    res: ServerResponse, id: string, interactionToken: string, body: Record<string, unknown>, files: UploadedFile[], withResponse: boolean,
  ): void {
    const state = interactionStates.get(id);
    if (!state || state.token !== interactionToken) return error(res, 404, 10062, 'Unknown interaction');
    if (!state.acknowledged && Date.now() - state.createdAt > deadlineMs) return error(res, 404, 10062, 'Unknown interaction');
    if (state.acknowledged) return error(res, 400, 40060, 'Interaction has already been acknowledged.');
    const type = Number(body.type);
    const data = body.data as Record<string, unknown> | undefined;
    const allowed: Record<number, number[]> = { 2: [4, 5, 9], 3: [4, 5, 6, 7, 9], 4: [8], 5: [4, 5, 6, 7] };
    if (!allowed[state.type]?.includes(type)) return error(res, 400, 50035, 'Invalid Form Body', { type: { _errors: [{ code: 'INTERACTION_RESPONSE_TYPE_INVALID' }] } });
    if ((type === 4 || type === 7) && invalidMessage(res, { ...(type === 7 ? { content: state.sourceMessage?.content } : {}), ...data }, files)) return;
    if (type === 8) {
      const choices = (data?.choices as unknown[] | undefined) ?? [];
      if (choices.length > 25) return error(res, 400, 50035, 'Invalid Form Body', { data: { choices: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH' }] } } });
    }
    state.acknowledged = true;
    state.callbacks.push({ seq: nextSeq(), type, data });
    let resource: ApiMessage | undefined;
    if (type === 4) {
      resource = makeMessage({
        channelId: state.channelId, author: bot, content: textOf(data?.content), flags: Number(data?.flags ?? 0), files,
        components: data?.components as unknown[] | undefined, applicationId,
      });
      state.original = resource;
      state.messages.push(record({ via: 'callback', ...sentFields(data ?? {}, files), interactionId: id, message: resource }));
    } else if (type === 5) {
      state.deferred = true;
      resource = makeMessage({ channelId: state.channelId, author: bot, content: '', flags: Number(data?.flags ?? 0) | 128, applicationId });
      state.original = resource;
    } else if (type === 7 && state.sourceMessage) {
      resource = { ...state.sourceMessage, ...(data?.content !== undefined ? { content: textOf(data.content) } : {}), ...(data?.components !== undefined ? { components: data.components } : {}) };
      state.sourceMessage = resource;
      messages.set(resource.id, resource);
      state.messages.push(record({ via: 'callback', ...sentFields(data ?? {}, files), interactionId: id, message: resource }));
    }
    if (!withResponse) return noContent(res);
    json(res, 200, {
      interaction: { id, type: state.type, activity_instance_id: null, response_message_id: resource?.id ?? null, response_message_loading: type === 5, response_message_ephemeral: false },
      ...(resource ? { resource: { type, message: resource } } : {}),
    });
  }

  function threadChannel(id: string, parentId: string, name: string, ownerIdOfThread: string): ApiChannel {
    const thread: ApiChannel = {
      id, type: 11, guild_id: guildId, parent_id: parentId, name, owner_id: ownerIdOfThread, flags: 0, last_message_id: null,
      message_count: 0, member_count: 1, rate_limit_per_user: 0,
      thread_metadata: { archived: false, auto_archive_duration: 1440, archive_timestamp: new Date().toISOString(), locked: false, create_timestamp: new Date().toISOString() },
      total_message_sent: 0,
    };
    channelMap.set(id, thread);
    return thread;
  }

  function newInteraction(
    user: FakeUser, channelId: string | undefined, type: number, data: Record<string, unknown>, extra: Record<string, unknown> = {},
  ): InteractionState {
    const chId = channelId ?? dmChannelOf(user);
    const channel = channelMap.get(chId);
    if (!channel) throw new Error(`unknown channel ${chId}`);
    const inGuild = channel.guild_id !== undefined;
    const id = snowflake();
    const payload: Record<string, unknown> = {
      id,
      application_id: applicationId,
      type,
      token: `itoken-${randomBytes(12).toString('hex')}`,
      version: 1,
      data,
      channel_id: chId,
      channel,
      locale: 'en-US',
      app_permissions: String(EVERYONE_PERMISSIONS),
      entitlements: [],
      authorizing_integration_owners: inGuild ? { 0: guildId } : { 1: user.id },
      context: inGuild ? 0 : 1,
      attachment_size_limit: 10 * 1024 * 1024,
      ...(inGuild
        ? { guild_id: guildId, guild_locale: 'en-US', guild: { id: guildId, locale: 'en-US', features: [] }, member: { ...apiMember(user), user: apiUser(user), permissions: String(memberPermissions(user)) } }
        : { user: apiUser(user) }),
      ...extra,
    };
    const state: InteractionState = {
      id, token: payload.token as string, type, payload, callbacks: [], messages: [], createdAt: Date.now(), acknowledged: false, deferred: false,
      original: undefined, sourceMessage: undefined, channelId: chId,
    };
    interactionStates.set(id, state);
    interactions.push(state);
    return state;
  }

  function commandData(input: CommandInput, focused?: string): Record<string, unknown> {
    const registeredCommand = [...registered.values()].flat().find((c) => c.name === input.name);
    const declared = (registeredCommand?.options as Array<{ name: string; type: number }> | undefined) ?? [];
    const attachments: Record<string, unknown> = {};
    const options = Object.entries(input.options ?? {}).map(([name, value]) => {
      const type = declared.find((o) => o.name === name)?.type ?? (typeof value === 'number' ? 4 : typeof value === 'object' ? 11 : 3);
      if (typeof value === 'object') {
        attachments[String(value.id)] = value;
        return { name, type, value: value.id };
      }
      return { name, type, value, ...(name === focused ? { focused: true } : {}) };
    });
    return {
      id: registeredCommand?.id ?? snowflake(),
      name: input.name,
      type: 1,
      options,
      ...(Object.keys(attachments).length > 0 ? { resolved: { attachments } } : {}),
    };
  }

  const fake: FakeDiscord = {
    apiUrl: `${base}/api`,
    token,
    bot,
    applicationId,
    guildId,
    channels: { general: general.id, support: support.id },
    roles,
    gateway,
    requests,
    sent,
    typing,
    threadsStarted,
    dmChannelsOpened,
    commandPuts,
    deleted,
    interactions,
    commands: (gid) => registered.get(gid ?? '') ?? [],
    dmChannelOf,
    userSends(input) {
      const channelId = input.channelId ?? dmChannelOf(input.author);
      const channel = channelMap.get(channelId);
      if (!channel) throw new Error(`unknown channel ${channelId}`);
      const message = makeMessage({
        channelId, author: input.author, content: input.content,
        ...(input.replyTo ? { reference: input.replyTo } : {}),
        ...(input.webhook ? { webhookId: snowflake() } : {}),
      });
      if (input.attachments) message.attachments = input.attachments;
      // Mentions as Discord parses them from the content; a reply pings the replied-to author.
      const mentioned = [...input.content.matchAll(/<@!?(\d+)>/g)].map((x) => x[1]!);
      const mentionUsers: Array<Record<string, unknown>> = mentioned.map((id) =>
        id === bot.id ? apiUser(bot) : { id, username: `user-${id}`, discriminator: '0', avatar: null },
      );
      const repliedAuthor = input.replyTo?.author as { id: string } | undefined;
      if (repliedAuthor && !mentioned.includes(repliedAuthor.id)) mentionUsers.push(repliedAuthor);
      message.mentions = mentionUsers;
      message.mention_roles = [...input.content.matchAll(/<@&(\d+)>/g)].map((x) => x[1]!);
      message.mention_everyone = /@(everyone|here)/.test(input.content);
      if (channel.guild_id) message.member = apiMember(input.author);
      // As Discord does: discord.js builds a channel it has not cached (a DM, a swept thread) from this.
      message.channel_type = channel.type;
      if (channel.type === 11) {
        channel.message_count = Number(channel.message_count ?? 0) + 1;
      }
      gateway.dispatch('MESSAGE_CREATE', message);
      return message;
    },
    userCreatesThread({ author, channelId, name }) {
      const thread = threadChannel(snowflake(), channelId, name, author.id);
      gateway.dispatch('THREAD_CREATE', { ...thread, newly_created: true });
      return thread.id;
    },
    runCommand(input) {
      const state = newInteraction(input.user, input.channelId, 2, commandData(input));
      gateway.dispatch('INTERACTION_CREATE', state.payload);
      return state;
    },
    autocomplete(input) {
      const state = newInteraction(input.user, input.channelId, 4, commandData(input, input.focused));
      gateway.dispatch('INTERACTION_CREATE', state.payload);
      return state;
    },
    submitModal({ user, channelId, customId, fields }) {
      const components = Object.entries(fields).map(([id, value]) => ({ type: 1, components: [{ type: 4, custom_id: id, value }] }));
      const state = newInteraction(user, channelId, 5, { custom_id: customId, components });
      gateway.dispatch('INTERACTION_CREATE', state.payload);
      return state;
    },
    clickButton({ user, message, customId }) {
      const current = messages.get(message.id) ?? message.message;
      const state = newInteraction(user, current.channel_id, 3, { custom_id: customId, component_type: 2 }, { message: current });
      state.sourceMessage = current;
      gateway.dispatch('INTERACTION_CREATE', state.payload);
      return state;
    },
    attachment: makeAttachment,
    failNext(count, status, opts = {}) {
      failure = { count, status, retryAfterSeconds: opts.retryAfterSeconds ?? 1, route: opts.route };
    },
    waitFor(check, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const poll = (): void => {
          if (!check()) return;
          waiters.delete(poll);
          clearTimeout(timer);
          clearInterval(ticker);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(poll);
          clearInterval(ticker);
          reject(new Error(`fake Discord: timed out; sent so far:\n${sent.map((s) => `[${s.via}] ${s.content}`).join('\n---\n')}`));
        }, timeoutMs);
        // Re-checked after every request and gateway frame, and now and then for what changes in
        // the client alone (its health after a close).
        const ticker = setInterval(poll, 50);
        waiters.add(poll);
        poll();
      });
    },
    clearRecords() {
      for (const list of [requests, sent, typing, threadsStarted, dmChannelsOpened, commandPuts, deleted, interactions] as unknown[][]) list.length = 0;
      failure = undefined;
    },
    async close() {
      await gateway.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}

/** What Discord refuses in a command definition, as far as the bridge could get it wrong. */
function commandProblem(command: Record<string, unknown>): string | undefined {
  const name = textOf(command.name);
  if (!/^[-_'\p{L}\p{N}]{1,32}$/u.test(name) || name !== name.toLowerCase()) return `invalid command name "${name}"`;
  const description = textOf(command.description);
  if (description.length < 1 || description.length > 100) return `description of ${name} must be 1-100 characters`;
  const options = (command.options as Array<Record<string, unknown>> | undefined) ?? [];
  let optionalSeen = false;
  for (const option of options) {
    const optionName = textOf(option.name);
    if (!/^[-_'\p{L}\p{N}]{1,32}$/u.test(optionName) || optionName !== optionName.toLowerCase()) return `invalid option name "${optionName}"`;
    const d = textOf(option.description);
    if (d.length < 1 || d.length > 100) return `description of option ${optionName} must be 1-100 characters`;
    if (option.required) {
      if (optionalSeen) return `required option ${optionName} after an optional one`;
    } else optionalSeen = true;
  }
  return undefined;
}

/** A command as Discord stores and returns it, defaults filled in as Discord does. */
function storedCommand(command: Record<string, unknown>, applicationId: string, guildId: string | undefined): Record<string, unknown> {
  return {
    id: String(BigInt(Math.floor(Math.random() * 2 ** 40)) + 1000000000000000000n),
    application_id: applicationId,
    version: String(Date.now()),
    type: 1,
    default_member_permissions: null,
    nsfw: false,
    integration_types: [0],
    contexts: null,
    name_localizations: null,
    description_localizations: null,
    ...(guildId ? { guild_id: guildId } : {}),
    ...command,
    options: ((command.options as Array<Record<string, unknown>> | undefined) ?? []).map((o) => ({ ...o })),
  };
}

/**
 * Roughly what a Discord user reads of `content`: markdown emphasis markers and backslash escapes
 * removed, zero-width characters (used to defang mentions) dropped.
 */
export function visibleText(content: string): string {
  return content
    .replace(/\u200b|\u200c|\u200d|\u2060/g, '')
    .replace(/(?<!\\)(\*\*|__|~~)/g, '')
    .replace(/\\([\\`*_~|>#<@:[\]()-])/g, '$1')
    .trim();
}

/**
 * Whether `content` holds a mention Discord would turn into a ping were allowed_mentions to let
 * it: @everyone, @here, a user, a role.
 */
export function hasLiveMention(content: string): boolean {
  return /@(everyone|here)\b|<@[!&]?\d+>/.test(content);
}

/**
 * Whether a message's `allowed_mentions` lets Discord ping anyone named in its content. Absent
 * means Discord's default: every mention in the content pings.
 */
export function allowsPings(allowedMentions: unknown): boolean {
  if (allowedMentions === undefined || allowedMentions === null) return true;
  const a = allowedMentions as { parse?: unknown[]; users?: unknown[]; roles?: unknown[] };
  return (a.parse?.length ?? 0) > 0 || (a.users?.length ?? 0) > 0 || (a.roles?.length ?? 0) > 0;
}

/** A JSON value as text: strings as they are, absent as empty, anything else as JSON. */
function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  return value === undefined || value === null ? '' : JSON.stringify(value);
}
