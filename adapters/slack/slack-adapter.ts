/**
 * Slack through Bolt. HTTP mode by default: Slack posts to `POST /slack/events` on the bridge's
 * own HTTP server (see slack-http-receiver.ts); Socket Mode when SLACK_APP_TOKEN is set. Either
 * way every request is acknowledged first (within Slack's 3 s) and the work runs afterwards.
 *
 * What is answered: mentions in channels (in the mention's thread), later messages of a thread
 * the bot was mentioned in (SLACK_THREAD_FOLLOWUPS; remembered in memory, else read from the
 * store, so restarts and other instances keep following), every message in the thread of a
 * handoff alert (`openThread`), every message of a DM, slash commands (to
 * the sender alone), modals for `/kb-add` without text and `/kb-upload`, and a confirmation button
 * for commands that ask one (`/kb-delete`). One message reaches the core once, whether Slack
 * retries it or sends it twice (`app_mention` + `message.channels`): its dedupe key names the
 * message (`team:channel:ts`).
 *
 * Thread keys: `slack:<team>:<channel>:<root ts>` for a channel thread, `slack:<team>:<D…>` for a
 * DM (plus `:<thread ts>` for a thread inside it), `slack:<team>:<channel>:u<user>` for slash
 * commands in a channel (each user's own conversation there).
 */
import { App, LogLevel, SocketModeReceiver, webApi, type AckFn, type Logger as BoltLogger, type RespondArguments, type ViewResponseAction } from '@slack/bolt';
import { ConfigError, type Config } from '../../src/config.js';
import {
  findCommand,
  type Adapter,
  type Attachment,
  type BridgePort,
  type Decision,
  type FormSpec,
  type Incoming,
  type OutgoingFile,
  type Reply,
  type SendOptions,
} from '../../src/core/index.js';
import type { HttpServer } from '../../src/http/server.js';
import type { Logger } from '../../src/log.js';
import { SlackHttpReceiver } from './slack-http-receiver.js';
import { SLACK_SECTION_LIMIT, slackChunks } from './slack-mrkdwn.js';

/** The one route Slack posts events, slash commands and interactivity to. */
export const SLACK_EVENTS_PATH = '/slack/events';

/**
 * Longest text of one posted message. Slack takes up to 40,000 characters but asks for at most
 * 4,000 (longer ones are folded behind "Show more" or cut by some clients), so answers are split
 * into messages of this size, in order, in the same thread.
 */
export const SLACK_MESSAGE_LIMIT = 4_000;

/** The reaction that shows the bot is working on a message ("typing"), removed after the answer. */
export const TYPING_REACTION = 'eyes';

/** A thread the bot was mentioned in is remembered this long (count), newest kept. */
const ANSWERED_THREADS_LIMIT = 10_000;
/** Slack lets a response_url be used five times. */
const RESPONSE_URL_USES = 5;
const FORM_CALLBACK = 'asyntai_form';
const UPLOAD_CALLBACK = 'asyntai_upload';
const CONFIRM_ACTION = 'asyntai_confirm';
const CANCEL_ACTION = 'asyntai_cancel';
/** The "Hand back to the assistant" button of a handoff alert: `/resume` for the alert's thread. */
const RESUME_ACTION = 'asyntai_resume';
/** Modal titles are at most 24 characters. */
const MODAL_TITLE_LIMIT = 24;
/** A button's value holds at most 2,000 characters. */
const BUTTON_VALUE_LIMIT = 2_000;
/** A plain_text_input takes at most 3,000 characters. */
const INPUT_LIMIT = 3_000;
/** Message subtypes that are still a person talking; every other subtype is ignored. */
const USER_SUBTYPES = new Set(['file_share', 'thread_broadcast']);
/** What Slack answers `auth.test` / `apps.connections.open` with for a token it will not take. */
const REFUSED_TOKEN_ERRORS = new Set(['invalid_auth', 'not_authed', 'account_inactive', 'token_revoked', 'token_expired', 'not_allowed_token_type']);

export interface SlackAdapterDeps {
  config: Pick<Config, 'slack'>;
  logger: Logger;
  /** Needed in HTTP mode, to receive Slack's requests. */
  http: HttpServer | undefined;
  /** WebClient retries; the default is a few over seconds (Bolt's own is 10 over 30 minutes). */
  retryConfig?: { retries: number; factor?: number; minTimeout?: number; maxTimeout?: number; randomize?: boolean };
}

/** The fields of a message or app_mention event the adapter reads. */
interface MessageEvent {
  type: string;
  subtype?: string;
  user?: string;
  bot_id?: string;
  text?: string;
  ts: string;
  thread_ts?: string;
  channel: string;
  channel_type?: string;
  files?: SlackFile[];
  /** The author's profile, on most message events from people (absent on some, e.g. file shares). */
  user_profile?: { display_name?: string; real_name?: string; name?: string };
}

/** A file as Slack describes it in events, file_input values and files.info. */
interface SlackFile {
  id: string;
  name?: string;
  title?: string;
  mimetype?: string;
  size?: number;
  url_private?: string;
}

/** Where a slash command (or a modal or button that came from one) is answered. */
interface CommandOrigin {
  team: string;
  channel: string;
  user: string;
  /** The user's name as the request carried it (`user_name`, `user.name`), when it did. */
  userName?: string | undefined;
  threadKey: string;
  responseUrl: string | undefined;
}

/** What a modal carries from its slash command to its submission (private_metadata, ≤ 3,000 chars). */
interface ModalMetadata {
  command: string;
  channel: string;
  threadKey: string;
  responseUrl?: string;
}

export class SlackAdapter implements Adapter {
  readonly platform = 'slack' as const;
  readonly app: App;
  private readonly botToken: string;
  private readonly httpReceiver: SlackHttpReceiver | undefined;
  private readonly socketReceiver: SocketModeReceiver | undefined;
  private bridge: BridgePort | undefined;
  /** Events are being received (until `stopReceiving` or `stop`). */
  private receiving = false;
  private socketUp = false;
  /** The workspace id, from auth.test when first needed. */
  private teamId: Promise<string> | undefined;
  /** Channel threads the bot was mentioned in (thread follow-ups). */
  private readonly answeredThreads = new RecentKeys(ANSWERED_THREADS_LIMIT);
  /** Threads under alerts the bot posted (`openThread`): every human message there goes to the core. */
  private readonly openedThreads = new RecentKeys(ANSWERED_THREADS_LIMIT);
  /**
   * Per thread: the store lookup (`BridgePort.followsThread`) of a reply the memory above did not
   * know, and the messages of that thread queued behind it, so they reach the core in order.
   */
  private readonly lookups = new Map<string, Promise<void>>();
  /** Background handling, awaited on stop. */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly deps: SlackAdapterDeps) {
    const { botToken, signingSecret, appToken, apiUrl } = deps.config.slack;
    if (!botToken) throw new ConfigError('SLACK_BOT_TOKEN', 'required by the slack adapter');
    this.botToken = botToken;
    const logger = boltLogger(deps.logger);
    const clientOptions = {
      ...(apiUrl ? { slackApiUrl: apiUrl } : {}),
      retryConfig: deps.retryConfig ?? { retries: 3, factor: 2, minTimeout: 1_000, maxTimeout: 5_000, randomize: true },
      timeout: 15_000,
    };
    if (appToken) {
      // The Socket Mode client's own WebClient (apps.connections.open) gets SLACK_API_URL too, and
      // retries without end (at most 30 s apart): when a reconnection's apps.connections.open
      // fails for good, @slack/socket-mode leaves the rejection unhandled, which would end the process.
      const socketClientOptions = { ...clientOptions, retryConfig: { forever: true, retries: 10, factor: 1.5, minTimeout: 1_000, maxTimeout: 30_000 } };
      this.socketReceiver = new SocketModeReceiver({ appToken, logger, installerOptions: { clientOptions: socketClientOptions } });
      this.socketReceiver.client.on('connected', () => (this.socketUp = true));
      // 'close' is the socket itself going away; the client reconnects after a delay without another event.
      for (const state of ['close', 'disconnected', 'reconnecting', 'disconnecting']) this.socketReceiver.client.on(state, () => (this.socketUp = false));
    } else {
      if (!signingSecret) throw new ConfigError('SLACK_SIGNING_SECRET', 'required by the slack adapter unless SLACK_APP_TOKEN (Socket Mode) is set');
      this.httpReceiver = new SlackHttpReceiver({ signingSecret, logger: deps.logger });
    }
    this.app = new App({
      token: botToken,
      receiver: this.socketReceiver ?? this.httpReceiver,
      ...(this.socketReceiver ? { socketMode: true, appToken } : {}),
      logger,
      clientOptions,
      // auth.test runs in start(), where a refused token can stop start-up with one line.
      deferInitialization: true,
      convoStore: false,
    });
    this.registerListeners();
    this.app.error((err) => {
      deps.logger.error({ err: err.original ?? err }, 'Slack listener failed');
      return Promise.resolve();
    });
  }

  async start(bridge: BridgePort): Promise<void> {
    this.bridge = bridge;
    try {
      await this.app.init();
    } catch (err) {
      throw refusedTokenError(err, 'SLACK_BOT_TOKEN') ?? err;
    }
    if (this.socketReceiver) {
      try {
        await this.app.start();
      } catch (err) {
        throw refusedTokenError(err, 'SLACK_APP_TOKEN') ?? err;
      }
    } else {
      if (!this.deps.http) throw new Error('Slack HTTP mode needs the HTTP server');
      this.deps.http.mount('POST', SLACK_EVENTS_PATH, this.httpReceiver!.handle);
      await this.app.start();
    }
    this.receiving = true;
  }

  /**
   * First step of shutting down: no new events (Socket Mode disconnects; HTTP mode answers 503,
   * so Slack retries elsewhere or later), while answers in progress can still be posted.
   */
  async stopReceiving(): Promise<void> {
    if (!this.receiving) return;
    this.receiving = false;
    await this.app.stop();
  }

  async stop(): Promise<void> {
    await this.stopReceiving();
    await Promise.allSettled([...this.inFlight]);
  }

  isHealthy(): boolean {
    return this.receiving && (this.socketReceiver ? this.socketUp : true);
  }

  /**
   * Posts outside a request: `slack:<channel>` (a bare channel, e.g. TEAM_CHANNEL),
   * `slack:<team>:<channel>` (a DM), `slack:<team>:<channel>:<thread ts>` (a thread), or
   * `slack:<team>:<channel>:u<user>` (a slash-command conversation: shown to that user alone).
   */
  async send(threadKey: string, markdown: string, options?: SendOptions): Promise<void> {
    const target = parseThreadKey(threadKey);
    if (!target) throw new Error(`not a Slack thread key: ${threadKey}`);
    if (options?.ephemeral && !target.user) throw new Error('Slack shows a message to one user only in a conversation with that user');
    const client = this.app.client;
    for (const text of slackChunks(markdown, SLACK_MESSAGE_LIMIT)) {
      if (target.user) await client.chat.postEphemeral({ channel: target.channel, user: target.user, text });
      else await client.chat.postMessage({ channel: target.channel, text, ...(target.threadTs ? { thread_ts: target.threadTs } : {}), ...NO_UNFURL });
    }
  }

  /**
   * Uploads a file (files upload v2) outside a request into the channel and thread a thread key
   * names, as `send` decodes them: files relayed in a human handoff. A slash-command
   * conversation (`…:u<user>`) is refused: Slack cannot show a file to one user.
   */
  async sendFile(threadKey: string, file: OutgoingFile): Promise<void> {
    const target = parseThreadKey(threadKey);
    if (!target) throw new Error(`not a Slack thread key: ${threadKey}`);
    if (target.user) throw new Error('Slack cannot show a file to one user');
    await this.upload(target.channel, file, target.threadTs);
  }

  /**
   * Posts an alert into a channel (`slack:<channel>`) and returns the thread key of its thread,
   * `slack:<team>:<channel>:<alert ts>`; every human message in that thread then reaches the core
   * without a mention (remembered here; after a restart or on another instance the store says so,
   * see `onMessage`). Human handoff uses it for TEAM_CHANNEL.
   */
  async openThread(channel: string, markdown: string): Promise<string> {
    const target = parseThreadKey(channel);
    if (!target || target.threadTs || target.user) throw new Error(`not a Slack channel address: ${channel}`);
    const [first = '', ...rest] = slackChunks(markdown, SLACK_MESSAGE_LIMIT);
    // The button is the one way to end it from Slack besides a typed message: Slack sends slash
    // commands without their thread (and its client will not send them from one at all).
    const blocks = first.length <= SLACK_SECTION_LIMIT ? resumeBlocks(first) : undefined;
    const posted = await this.app.client.chat.postMessage({ channel: target.channel, text: first, ...(blocks ? { blocks } : {}), ...NO_UNFURL });
    if (!posted.ts) throw new Error('chat.postMessage returned no ts');
    for (const text of rest) await this.app.client.chat.postMessage({ channel: target.channel, text, thread_ts: posted.ts, ...NO_UNFURL });
    const threadKey = `slack:${await this.workspace()}:${target.channel}:${posted.ts}`;
    this.openedThreads.add(threadKey);
    return threadKey;
  }

  /** The workspace id (auth.test once; a failure is retried on the next call). */
  private workspace(): Promise<string> {
    this.teamId ??= this.app.client.auth.test().then(
      (auth) => auth.team_id ?? '',
      (err: unknown) => {
        this.teamId = undefined;
        throw err;
      },
    );
    return this.teamId;
  }

  // ------------------------------------------------------------------ listeners

  private registerListeners(): void {
    const app = this.app;
    // Bolt has acknowledged events before listeners run; the work goes on in the background.
    app.event('app_mention', ({ event, body, context }) => {
      this.onMessage(event, teamOf(body), context.botUserId);
      return Promise.resolve();
    });
    app.event('message', ({ event, body, context }) => {
      this.onMessage(event as unknown as MessageEvent, teamOf(body), context.botUserId);
      return Promise.resolve();
    });
    app.command(/^\//, async ({ command, ack }) => {
      await this.onSlashCommand(command, ack);
    });
    app.view(FORM_CALLBACK, async ({ view, body, ack }) => {
      await this.onFormSubmission(view, body.user, body.team?.id ?? '', ack as AckFn<ViewResponseAction>);
    });
    app.view(UPLOAD_CALLBACK, async ({ view, body, ack }) => {
      await this.onUploadSubmission(view, body.user, body.team?.id ?? '', ack as AckFn<ViewResponseAction>);
    });
    app.action(CONFIRM_ACTION, async ({ ack, body, action }) => {
      await ack();
      this.onConfirm(body as unknown as ButtonBody, (action as { value?: string }).value ?? '');
    });
    app.action(RESUME_ACTION, async ({ ack, body }) => {
      await ack();
      this.onResumeButton(body as unknown as ButtonBody);
    });
    app.action(CANCEL_ACTION, async ({ ack, body }) => {
      await ack();
      const url = (body as unknown as ButtonBody).response_url;
      if (url) await postToResponseUrl(url, { replace_original: true, text: 'Cancelled: nothing was changed.' }).catch((err: unknown) => this.deps.logger.warn({ err }, 'could not answer a cancel'));
    });
  }

  /**
   * A message or app_mention event: decide whether it is for the bot, then hand it over. A reply
   * in a channel thread without a mention is for the bot when the thread is remembered here, or,
   * when this process does not know it (a restart, another instance took the mention), when the
   * store says so (`followsThread`): only thread replies cost that read, never channel chatter.
   */
  private onMessage(event: MessageEvent, team: string, botUserId: string | undefined): void {
    const bridge = this.bridge;
    if (!bridge || !botUserId) return;
    if (event.subtype !== undefined && !USER_SUBTYPES.has(event.subtype)) return; // edits, deletions, joins, bot_message
    const user = event.user;
    if (event.bot_id || !user || user === botUserId) return;
    const { channel } = event;
    const isDm = event.channel_type === 'im';
    const mentioned = event.type === 'app_mention' || (event.text ?? '').includes(`<@${botUserId}`);
    const followups = this.deps.config.slack.threadFollowups;
    let threadKey: string;
    let known = true;
    if (isDm) {
      threadKey = event.thread_ts ? `slack:${team}:${channel}:${event.thread_ts}` : `slack:${team}:${channel}`;
    } else {
      threadKey = `slack:${team}:${channel}:${event.thread_ts ?? event.ts}`;
      known = mentioned || (event.thread_ts !== undefined && (this.openedThreads.has(threadKey) || (followups && this.answeredThreads.has(threadKey))));
      // Without follow-ups only handoff threads are followed, and the store cannot tell those from
      // threads with a session: then only this process's memory of them counts.
      if (!known && (event.thread_ts === undefined || !followups)) return;
    }
    const pending = this.lookups.get(threadKey);
    if (known && !pending) {
      void this.accept(event, user, team, botUserId, threadKey);
      return;
    }
    const step = async (): Promise<void> => {
      if (!known) {
        const follows = await bridge.followsThread(threadKey).catch((err: unknown) => {
          this.deps.logger.warn({ err, thread: threadKey }, 'could not tell whether the bot follows a Slack thread; the reply is not answered');
          return false;
        });
        if (!follows) return;
      }
      // Awaited, so stop() (which awaits this lookup) also waits for the answer it started.
      await this.accept(event, user, team, botUserId, threadKey);
    };
    const next = (pending ?? Promise.resolve()).then(step);
    this.lookups.set(threadKey, next);
    const done = next.finally(() => {
      if (this.lookups.get(threadKey) === next) this.lookups.delete(threadKey);
    });
    this.inFlight.add(done);
    void done.finally(() => this.inFlight.delete(done));
  }

  /** A message for the bot: normalised, decided and handed to the core; resolves once answered. */
  private accept(event: MessageEvent, user: string, team: string, botUserId: string, threadKey: string): Promise<void> | undefined {
    if (!this.bridge) return undefined;
    const { channel, ts } = event;
    const isDm = event.channel_type === 'im';
    const threadTs = isDm ? event.thread_ts : (event.thread_ts ?? ts);
    const profile = event.user_profile;
    const incoming: Incoming = {
      platform: 'slack',
      threadKey,
      spaceKey: `slack:${team}`,
      dedupeKey: `${team}:${channel}:${ts}`,
      sender: this.sender(user, profile?.display_name || profile?.real_name || profile?.name),
      text: plainText(event.text ?? '', botUserId),
      attachments: Array.isArray(event.files) ? event.files.map((f) => this.attachment(f)) : [],
      isPrivate: isDm,
    };
    const decision = this.bridge.decide(incoming, { forms: false });
    if (decision.kind === 'ignore') return undefined;
    if (!isDm) this.answeredThreads.add(threadKey);
    const typing = { channel, ts, shown: false };
    const reply = this.messageReply({ channel, threadTs, user, isDm, typing });
    return this.handOver(incoming, reply, decision, async () => {
      if (!typing.shown) return;
      await this.app.client.reactions
        .remove({ channel, timestamp: ts, name: TYPING_REACTION })
        .catch((err: unknown) => this.deps.logger.debug({ err }, 'could not remove the typing reaction'));
    });
  }

  /** A slash command: decide at once, acknowledge (with a refusal, a modal or a confirmation), work after. */
  private async onSlashCommand(command: SlashCommandBody, ack: AckFn<string | RespondArguments>): Promise<void> {
    // Slack always sends these as strings; a body without them is not one to answer.
    if (!this.bridge || typeof command.command !== 'string' || typeof command.channel_id !== 'string') return ack();
    const name = command.command.replace(/^\//, '').toLowerCase();
    const origin: CommandOrigin = {
      team: command.team_id,
      channel: command.channel_id,
      user: command.user_id,
      userName: command.user_name,
      threadKey: command.channel_id.startsWith('D') ? `slack:${command.team_id}:${command.channel_id}` : `slack:${command.team_id}:${command.channel_id}:u${command.user_id}`,
      responseUrl: command.response_url,
    };
    const incoming = this.commandIncoming(origin, `${command.team_id}:command:${command.trigger_id}`, { name, args: plainText(command.text ?? '') });
    const decision = this.bridge.decide(incoming, { forms: true });
    switch (decision.kind) {
      case 'ignore':
        return ack();
      case 'refuse':
        return ack({ response_type: 'ephemeral', text: slackChunks(decision.text, SLACK_MESSAGE_LIMIT)[0] ?? '' });
      case 'form':
        await ack();
        return this.openModal(command.trigger_id, formView(decision.form, metadata(origin, decision.form.command)), origin);
      case 'run': {
        if (decision.command === 'kb-upload' && incoming.command!.args.trim() === '') {
          await ack();
          return this.openModal(command.trigger_id, uploadView(metadata(origin, 'kb-upload')), origin);
        }
        const question = decision.command ? findCommand(decision.command)?.confirmation : undefined;
        const args = incoming.command!.args.trim();
        // The button carries the command (a button value holds 2,000 characters).
        const request = JSON.stringify({ command: decision.command, args, threadKey: origin.threadKey });
        if (question && args !== '' && request.length <= BUTTON_VALUE_LIMIT) {
          return ack({ response_type: 'ephemeral', text: question, blocks: confirmBlocks(question, decision.command!, args, request) } as RespondArguments);
        }
        await ack();
        this.run(incoming, this.commandReply(origin), decision);
        return;
      }
    }
  }

  /** A modal of a core form: check the fields against the form's lengths, answer errors in the modal. */
  private async onFormSubmission(view: SubmittedView, user: ViewUser, team: string, ack: AckFn<ViewResponseAction>): Promise<void> {
    const meta = parseMetadata(view.private_metadata);
    const form = meta ? findCommand(meta.command)?.form : undefined;
    if (!meta || !form || !this.bridge) return ack();
    const values: Record<string, string> = {};
    const errors: Record<string, string> = {};
    for (const field of form.fields) {
      const value = String(view.state?.values?.[field.id]?.value?.value ?? '').trim();
      values[field.id] = value;
      const problem = fieldProblem(value, field.minLength, field.maxLength);
      if (problem) errors[field.id] = problem;
    }
    if (Object.keys(errors).length > 0) return ack({ response_action: 'errors', errors });
    await ack();
    const origin = originOf(meta, team, user);
    const incoming = this.commandIncoming(origin, `${team}:view:${view.id}`, { name: meta.command, args: '', values });
    this.run(incoming, this.commandReply(origin), this.bridge.decide(incoming, { forms: true }));
  }

  /** The `/kb-upload` modal: the chosen file becomes the command's attachment. */
  private async onUploadSubmission(view: SubmittedView, user: ViewUser, team: string, ack: AckFn<ViewResponseAction>): Promise<void> {
    const meta = parseMetadata(view.private_metadata);
    if (!meta || !this.bridge) return ack();
    const file = view.state?.values?.file?.file?.files?.[0];
    if (!file) return ack({ response_action: 'errors', errors: { file: 'Choose a .csv or .xlsx file.' } });
    if (!/\.(csv|xlsx)$/i.test(file.name ?? '')) return ack({ response_action: 'errors', errors: { file: 'Only .csv and .xlsx files can be added.' } });
    await ack();
    const origin = originOf(meta, team, user);
    const incoming: Incoming = {
      ...this.commandIncoming(origin, `${team}:view:${view.id}`, { name: 'kb-upload', args: '' }),
      attachments: [this.attachment(file)],
    };
    this.run(incoming, this.commandReply(origin), this.bridge.decide(incoming, { forms: true }));
  }

  /** The confirmation button of a command: run it now, answering in place of the question. */
  private onConfirm(body: ButtonBody, value: string): void {
    if (!this.bridge) return;
    let request: { command: string; args: string; threadKey: string };
    try {
      request = JSON.parse(value) as typeof request;
    } catch {
      return;
    }
    // The value is ours (set on the button), but a forged or mangled one must not reach the core.
    if (typeof request?.command !== 'string' || typeof request.args !== 'string' || typeof request.threadKey !== 'string') return;
    const team = body.team?.id ?? body.user.team_id ?? '';
    const origin: CommandOrigin = {
      team,
      channel: body.channel?.id ?? body.container?.channel_id ?? '',
      user: body.user.id,
      userName: body.user.name ?? body.user.username,
      threadKey: request.threadKey,
      responseUrl: body.response_url,
    };
    // Two clicks of one user on one question are one confirmation.
    const dedupe = `${team}:confirm:${body.user.id}:${body.container?.message_ts ?? body.trigger_id}`;
    const incoming = this.commandIncoming(origin, dedupe, { name: request.command, args: request.args });
    this.run(incoming, this.commandReply(origin, { replaceFirst: true }), this.bridge.decide(incoming, { forms: false }));
  }

  /** "Hand back to the assistant" on a handoff alert: `/resume` in the alert's thread, answered there. */
  private onResumeButton(body: ButtonBody): void {
    const channel = body.container?.channel_id ?? body.channel?.id;
    const alertTs = body.container?.message_ts;
    if (!this.bridge || !channel || !alertTs) return;
    const team = body.team?.id ?? body.user.team_id ?? '';
    const incoming: Incoming = {
      platform: 'slack',
      threadKey: `slack:${team}:${channel}:${alertTs}`,
      spaceKey: `slack:${team}`,
      // Each click is its own request: a second one is told the handoff already ended.
      dedupeKey: `${team}:resume:${body.trigger_id}`,
      sender: this.sender(body.user.id, body.user.name ?? body.user.username),
      text: '',
      command: { name: 'resume', args: '' },
      attachments: [],
      isPrivate: false,
    };
    const reply = this.messageReply({ channel, threadTs: alertTs, user: body.user.id, isDm: false, typing: { channel, ts: alertTs, shown: true } });
    this.run(incoming, reply, this.bridge.decide(incoming, { forms: false }));
  }

  // ------------------------------------------------------------------ helpers

  /** The sender; the adapter never calls users.*, so its name is what the event carried, else the id. */
  private sender(user: string, name: string | undefined): Incoming['sender'] {
    return { id: user, name: name || user, isAdmin: this.deps.config.slack.adminIds.has(user) };
  }

  private commandIncoming(origin: CommandOrigin, dedupeKey: string, command: NonNullable<Incoming['command']>): Incoming {
    return {
      platform: 'slack',
      threadKey: origin.threadKey,
      spaceKey: `slack:${origin.team}`,
      dedupeKey,
      sender: this.sender(origin.user, origin.userName),
      text: '',
      command,
      attachments: [],
      // Answers go to the sender alone (response_url, ephemeral): personal data still goes to a DM for files.
      isPrivate: false,
    };
  }

  /** Hands the event to the core in the background; `after` runs once it is answered. */
  private run(incoming: Incoming, reply: Reply, decision: Decision): void {
    void this.handOver(incoming, reply, decision);
  }

  /** `run`, resolving once answered (never rejects): for callers that must wait for it. */
  private handOver(incoming: Incoming, reply: Reply, decision: Decision, after?: () => Promise<void>): Promise<void> | undefined {
    const bridge = this.bridge;
    if (!bridge || decision.kind === 'ignore' || decision.kind === 'form') return undefined;
    const work = bridge
      .handle(incoming, reply, decision)
      .then(after)
      .catch((err: unknown) => this.deps.logger.error({ err }, 'Slack event handling failed'));
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
    return work;
  }

  private async openModal(triggerId: string, view: Record<string, unknown>, origin: CommandOrigin): Promise<void> {
    try {
      await this.app.client.views.open({ trigger_id: triggerId, view: view as never });
    } catch (err) {
      this.deps.logger.warn({ err }, 'could not open a Slack modal');
      await this.commandReply(origin)
        .text('Could not open the form (Slack gives 3 seconds). Please run the command again.', { ephemeral: true })
        .catch(() => {});
    }
  }

  /** Answers in a channel thread or a DM; ephemeral text in channels; typing as a reaction. */
  private messageReply(target: { channel: string; threadTs: string | undefined; user: string; isDm: boolean; typing: { channel: string; ts: string; shown: boolean } }): Reply {
    const client = this.app.client;
    const thread = target.threadTs ? { thread_ts: target.threadTs } : {};
    return {
      ...(target.isDm ? {} : { ephemeral: { text: true, file: false } }),
      text: async (markdown, options) => {
        if (options?.ephemeral && target.isDm) throw new Error('ephemeral text is not offered in a DM');
        for (const text of slackChunks(markdown, SLACK_MESSAGE_LIMIT)) {
          if (options?.ephemeral) await client.chat.postEphemeral({ channel: target.channel, user: target.user, text, ...thread });
          else await client.chat.postMessage({ channel: target.channel, text, ...thread, ...NO_UNFURL });
        }
      },
      file: async (file, options) => {
        if (options?.ephemeral) throw new Error('Slack cannot show a file to one user');
        await this.upload(target.channel, file, target.threadTs);
      },
      typing: async () => {
        if (target.typing.shown) return;
        target.typing.shown = true;
        await client.reactions.add({ channel: target.typing.channel, timestamp: target.typing.ts, name: TYPING_REACTION });
      },
      directMessage: () => this.directMessage(target.user),
    };
  }

  /**
   * Answers a slash command (or its modal or button) to the sender alone: through the command's
   * response_url (five uses), then chat.postEphemeral. `replaceFirst` replaces the message the
   * button was on.
   */
  private commandReply(origin: CommandOrigin, { replaceFirst = false } = {}): Reply {
    const client = this.app.client;
    let uses = 0;
    const post = async (text: string): Promise<void> => {
      if (origin.responseUrl && uses < RESPONSE_URL_USES) {
        const replace = replaceFirst && uses === 0;
        uses += 1;
        try {
          await postToResponseUrl(origin.responseUrl, { response_type: 'ephemeral', text, ...(replace ? { replace_original: true } : {}) });
          return;
        } catch (err) {
          this.deps.logger.debug({ err }, 'response_url refused; posting ephemeral instead');
        }
      }
      await client.chat.postEphemeral({ channel: origin.channel, user: origin.user, text });
    };
    return {
      ephemeral: { text: true, file: false },
      text: async (markdown) => {
        for (const text of slackChunks(markdown, SLACK_MESSAGE_LIMIT)) await post(text);
      },
      file: async (file, options) => {
        if (options?.ephemeral) throw new Error('Slack cannot show a file to one user');
        await this.upload(origin.channel, file, undefined);
      },
      directMessage: () => this.directMessage(origin.user),
    };
  }

  /** The user's DM with the bot (conversations.open), as a Reply. */
  private async directMessage(user: string): Promise<Reply> {
    const opened = await this.app.client.conversations.open({ users: user });
    const channel = opened.channel?.id;
    if (!channel) throw new Error('conversations.open returned no channel');
    const client = this.app.client;
    return {
      text: async (markdown) => {
        for (const text of slackChunks(markdown, SLACK_MESSAGE_LIMIT)) await client.chat.postMessage({ channel, text, ...NO_UNFURL });
      },
      file: async (file) => this.upload(channel, file, undefined),
    };
  }

  private async upload(channel: string, file: OutgoingFile, threadTs: string | undefined): Promise<void> {
    await this.app.client.filesUploadV2({
      channel_id: channel,
      file: file.data,
      filename: file.name,
      title: file.name,
      ...(file.caption ? { initial_comment: file.caption } : {}),
      ...(threadTs ? { thread_ts: threadTs } : {}),
    } as never);
  }

  /** A file the user shared: downloaded only when a command needs it, with the bot token. */
  private attachment(file: SlackFile): Attachment {
    return {
      name: file.name ?? file.title ?? 'file',
      ...(file.mimetype ? { contentType: file.mimetype } : {}),
      ...(file.size !== undefined ? { size: file.size } : {}),
      download: async () => {
        const url = file.url_private ?? (await this.app.client.files.info({ file: file.id })).file?.url_private;
        if (!url) throw new Error('Slack gave no download URL for the file');
        const res = await fetch(url, { headers: { authorization: `Bearer ${this.botToken}` } });
        if (!res.ok) throw new Error(`file download failed with HTTP ${res.status}`);
        // Without a valid token (or the files:read scope) Slack answers its sign-in page instead.
        if ((res.headers.get('content-type') ?? '').startsWith('text/html')) throw new Error('Slack answered a sign-in page instead of the file (is files:read granted?)');
        return Buffer.from(await res.arrayBuffer());
      },
    };
  }
}

/** A bounded set of recently used keys: the least recently added goes first when it is full. */
class RecentKeys {
  private readonly keys = new Set<string>();
  constructor(private readonly limit: number) {}

  add(key: string): void {
    this.keys.delete(key);
    this.keys.add(key);
    if (this.keys.size > this.limit) this.keys.delete(this.keys.values().next().value!);
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }
}

// ------------------------------------------------------------------ payload shapes

interface SlashCommandBody {
  command: string;
  text?: string;
  team_id: string;
  channel_id: string;
  user_id: string;
  user_name?: string;
  trigger_id: string;
  response_url?: string;
}

interface SubmittedView {
  id: string;
  private_metadata?: string;
  state: { values: Record<string, Record<string, { value?: string | null; files?: SlackFile[] }>> };
}

/** The user of an interaction payload (view submission, button). */
interface ViewUser {
  id: string;
  name?: string;
  username?: string;
}

interface ButtonBody {
  user: ViewUser & { team_id?: string };
  team?: { id: string } | null;
  channel?: { id: string };
  container?: { channel_id?: string; message_ts?: string };
  trigger_id: string;
  response_url?: string;
}

// ------------------------------------------------------------------ pure helpers

/** Link previews of answers would repeat every URL the assistant mentions. */
const NO_UNFURL = { unfurl_links: false, unfurl_media: false } as const;

function teamOf(body: { team_id?: string; authorizations?: Array<{ team_id?: string | null }> }): string {
  return body.team_id ?? body.authorizations?.[0]?.team_id ?? '';
}

/**
 * What the user typed, as text: the bot's mention removed, Slack's `<…>` markup turned back into
 * what it shows (links, mailto and tel labels, @user, #channel, @here) and `&amp; &lt; &gt;`
 * decoded. Emails stay emails, so the assistant still sees a lead.
 */
export function plainText(text: string, botUserId?: string): string {
  return (botUserId ? text.replace(new RegExp(`<@${botUserId}(?:\\|[^>]*)?>`, 'g'), ' ') : text)
    .replace(/<(?:mailto|tel):[^|>]*\|([^>]*)>/g, '$1')
    .replace(/<(?:mailto|tel):([^|>]*)>/g, '$1')
    .replace(/<((?:https?|ftp):[^|>]*)(?:\|[^>]*)?>/g, '$1')
    .replace(/<@([A-Z0-9]+)(?:\|([^>]*))?>/g, (_m, id: string, name?: string) => `@${name || id}`)
    .replace(/<#([A-Z0-9]+)(?:\|([^>]*))?>/g, (_m, id: string, name?: string) => `#${name || id}`)
    .replace(/<!(here|channel|everyone)(?:\|[^>]*)?>/g, '@$1')
    .replace(/<![^|>]*\|([^>]*)>/g, '$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/[ \t]+/g, ' ')
    .trim();
}

/** Decodes the thread keys this adapter makes (see the file comment) and bare `slack:<channel>`. */
export function parseThreadKey(key: string): { channel: string; threadTs?: string; user?: string } | undefined {
  const parts = key.split(':');
  if (parts[0] !== 'slack') return undefined;
  const isChannel = (s: string | undefined): s is string => s !== undefined && /^[CDG][A-Z0-9]+$/.test(s);
  if (parts.length === 2 && isChannel(parts[1])) return { channel: parts[1] };
  if ((parts.length === 3 || parts.length === 4) && isChannel(parts[2])) {
    const rest = parts[3];
    if (rest === undefined) return { channel: parts[2] };
    if (/^u[A-Z0-9]+$/.test(rest)) return { channel: parts[2], user: rest.slice(1) };
    if (/^\d+\.\d+$/.test(rest)) return { channel: parts[2], threadTs: rest };
  }
  return undefined;
}

function refusedTokenError(err: unknown, variable: string): ConfigError | undefined {
  if (err instanceof Error && 'code' in err && err.code === webApi.ErrorCode.PlatformError) {
    const code = (err as unknown as { data?: { error?: string } }).data?.error;
    if (code && REFUSED_TOKEN_ERRORS.has(code)) return new ConfigError(variable, `Slack refused the token (${code})`);
  }
  return undefined;
}

async function postToResponseUrl(url: string, body: Record<string, unknown>): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`response_url answered HTTP ${res.status}: ${(await res.text()).slice(0, 100)}`);
}

function metadata(origin: CommandOrigin, command: string): ModalMetadata {
  return { command, channel: origin.channel, threadKey: origin.threadKey, ...(origin.responseUrl ? { responseUrl: origin.responseUrl } : {}) };
}

function parseMetadata(raw: string | undefined): ModalMetadata | undefined {
  try {
    const meta = JSON.parse(raw ?? '') as Partial<ModalMetadata>;
    return typeof meta.command === 'string' && typeof meta.channel === 'string' && typeof meta.threadKey === 'string' ? (meta as ModalMetadata) : undefined;
  } catch {
    return undefined;
  }
}

function originOf(meta: ModalMetadata, team: string, user: ViewUser): CommandOrigin {
  return { team, channel: meta.channel, user: user.id, userName: user.name ?? user.username, threadKey: meta.threadKey, responseUrl: meta.responseUrl };
}

/** The message a field's length gets in the modal, or undefined when it is fine. */
function fieldProblem(value: string, minLength: number | undefined, maxLength: number | undefined): string | undefined {
  if (value === '') return 'Please fill this in.';
  if (minLength !== undefined && value.length < minLength) return `At least ${minLength} characters, please (${value.length} now).`;
  if (maxLength !== undefined && value.length > maxLength) return `At most ${maxLength} characters, please (${value.length} now).`;
  return undefined;
}

const plain = (text: string) => ({ type: 'plain_text' as const, text });

/** Shortens a modal title to Slack's 24 characters at a word boundary. */
function modalTitle(title: string): string {
  if (title.length <= MODAL_TITLE_LIMIT) return title;
  const cut = title.slice(0, MODAL_TITLE_LIMIT);
  return cut.slice(0, cut.lastIndexOf(' ') > 0 ? cut.lastIndexOf(' ') : MODAL_TITLE_LIMIT).trim();
}

function formView(form: FormSpec, meta: ModalMetadata): Record<string, unknown> {
  return {
    type: 'modal',
    callback_id: FORM_CALLBACK,
    private_metadata: JSON.stringify(meta),
    title: plain(modalTitle(form.title)),
    submit: plain('Save'),
    close: plain('Cancel'),
    blocks: form.fields.map((field) => ({
      type: 'input',
      block_id: field.id,
      label: plain(field.label),
      element: {
        type: 'plain_text_input',
        action_id: 'value',
        multiline: field.multiline === true,
        ...(field.minLength !== undefined ? { min_length: Math.min(field.minLength, INPUT_LIMIT) } : {}),
        max_length: Math.min(field.maxLength ?? INPUT_LIMIT, INPUT_LIMIT),
      },
    })),
  };
}

function uploadView(meta: ModalMetadata): Record<string, unknown> {
  return {
    type: 'modal',
    callback_id: UPLOAD_CALLBACK,
    private_metadata: JSON.stringify(meta),
    title: plain('Add a spreadsheet'),
    submit: plain('Upload'),
    close: plain('Cancel'),
    blocks: [
      {
        type: 'input',
        block_id: 'file',
        label: plain('A .csv or .xlsx file (first row = headers; each row becomes an entry)'),
        element: { type: 'file_input', action_id: 'file', filetypes: ['csv', 'xlsx'], max_files: 1 },
      },
    ],
  };
}

function confirmBlocks(question: string, command: string, args: string, request: string): Record<string, unknown>[] {
  return [
    { type: 'section', text: { type: 'mrkdwn', text: slackChunks(`${question}\n\`/${command} ${args}\``, SLACK_SECTION_LIMIT)[0] ?? question } },
    {
      type: 'actions',
      block_id: 'asyntai_confirmation',
      elements: [
        { type: 'button', action_id: CONFIRM_ACTION, style: 'danger', text: plain('Yes'), value: request },
        { type: 'button', action_id: CANCEL_ACTION, text: plain('Cancel'), value: 'cancel' },
      ],
    },
  ];
}

/** A handoff alert as blocks: its text, and the button that hands the conversation back. */
function resumeBlocks(text: string): Record<string, unknown>[] {
  return [
    { type: 'section', text: { type: 'mrkdwn', text } },
    { type: 'actions', block_id: 'asyntai_handoff', elements: [{ type: 'button', action_id: RESUME_ACTION, text: plain('Hand back to the assistant'), value: 'resume' }] },
  ];
}

/** Bolt's logger interface over the bridge's logger (which scrubs secrets from every line). */
function boltLogger(logger: Logger): BoltLogger {
  const log = logger.child({ component: 'slack' });
  let level = LogLevel.INFO;
  const write = (method: 'debug' | 'info' | 'warn' | 'error') => (...messages: unknown[]) => {
    const err = messages.find((m): m is Error => m instanceof Error);
    const text = messages.filter((m) => !(m instanceof Error)).map(String).join(' ');
    if (err) log[method]({ err }, text || err.message);
    else log[method](text);
  };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    setLevel: (l) => (level = l),
    getLevel: () => level,
    setName: () => {},
  };
}
