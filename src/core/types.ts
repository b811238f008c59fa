/**
 * The neutral types between adapters and the core. Nothing here names a platform SDK: an adapter
 * turns its SDK's event into an `Incoming`, asks the core for a `Decision` at once (to acknowledge
 * within the platform's deadline), then hands the event over with a `Reply` to answer through.
 */

/** Platforms the bridge speaks; also the prefix of every thread key. */
export type PlatformName = 'telegram' | 'slack' | 'discord' | 'shell';

/** Who sent a message, as the adapter saw it. */
export interface Sender {
  id: string;
  /** Display name, for logs, greetings and handoff alerts only. */
  name?: string;
  /** Decided by the adapter from its `*_ADMIN_IDS` list (and platform roles where it has them). */
  isAdmin: boolean;
}

/** A file that came with a message. Downloaded only when a command needs it. */
export interface Attachment {
  name: string;
  /** MIME type when the platform gives one. */
  contentType?: string;
  /** Size in bytes when the platform tells it before download. */
  size?: number;
  download(): Promise<Buffer>;
}

/** A command the platform already parsed (slash command, Telegram `/kb_add` entity, a form). */
export interface IncomingCommand {
  /** Canonical hyphenated name (`kb-add`); `_` is accepted for `-`. */
  name: string;
  /** The raw argument text, as typed; empty when the platform gave named values instead. */
  args: string;
  /**
   * Named argument values (Discord options, modal fields), keyed by the command's argument names
   * or form field ids. Commands read these first and parse `args` only when they are absent.
   */
  values?: Readonly<Record<string, string>>;
}

/** One message or command, normalised. */
export interface Incoming {
  platform: PlatformName;
  /** The conversation: maps to one Asyntai session (README "Sessions"), e.g. `telegram:42:u7`. */
  threadKey: string;
  /**
   * The space a website binding belongs to: Discord guild, Slack workspace, Telegram chat, the
   * shell. E.g. `telegram:-100123`, `slack:T1`, `discord:G1`, `shell:local`.
   */
  spaceKey: string;
  /**
   * Names the message, not the delivery: the same message delivered twice (a platform retry, or
   * Slack's `app_mention` and `message.channels` for one message) has the same key, so the core
   * answers it once. E.g. Slack `T1:C1:1712345678.000100`, Telegram `<bot>:<update_id>`, Discord
   * the message or interaction id. Unique within the platform.
   */
  dedupeKey: string;
  sender: Sender;
  /** Text with any bot mention already stripped. */
  text: string;
  /** Set when the platform already parsed a command; otherwise a leading `/` in `text` is one. */
  command?: IncomingCommand;
  attachments: Attachment[];
  /**
   * True where nobody but the sender (and the bot) can read the answer: a private chat, a DM.
   * Personal data (leads) is shown publicly never; see `Reply.ephemeral` and `directMessage`.
   */
  isPrivate: boolean;
  /**
   * The platform reference of the bot's message this one replies to, where the platform threads
   * by reply (Telegram: `telegram:<chat>:m<message id>`), as `Adapter.send` returned it. Human
   * handoff finds the team's replies to an alert by it.
   */
  replyTo?: string;
}

/** A file for the user, e.g. the leads CSV. */
export interface OutgoingFile {
  name: string;
  contentType: string;
  data: Buffer;
  caption?: string;
}

/** Options for one answer. */
export interface SendOptions {
  /**
   * Show only to the sender. The core asks for it only where the reply's `ephemeral` says it can;
   * an adapter asked for what it cannot do must throw, never post publicly instead.
   */
  ephemeral?: boolean;
}

/** A field of a form (Slack modal, Discord modal). */
export interface FormField {
  id: string;
  label: string;
  multiline?: boolean;
  minLength?: number;
  maxLength?: number;
}

/** A form the core asks an adapter to open, e.g. `/kb-add` with no arguments on Slack. */
export interface FormSpec {
  /** The command that receives the submitted values (as `IncomingCommand.values`). */
  command: string;
  title: string;
  fields: FormField[];
}

/**
 * How the core answers one Incoming. `text` is markdown: the adapter renders and splits it with
 * its renderer from the format layer. Optional capabilities are optional members.
 */
export interface Reply {
  text(markdown: string, options?: SendOptions): Promise<void>;
  /** Absent where the platform takes no files. */
  file?(file: OutgoingFile, options?: SendOptions): Promise<void>;
  /** Shows "typing…"; the core renews it every few seconds while waiting for the assistant. */
  typing?(): Promise<void>;
  /**
   * Which operations this reply can show to the sender alone (`SendOptions.ephemeral`), per
   * operation: Slack can post ephemeral text but no ephemeral file. Absent: neither.
   */
  readonly ephemeral?: { readonly text: boolean; readonly file: boolean };
  /**
   * The sender's direct-message conversation with the bot, for personal data where this reply
   * cannot be private. Rejects when the platform will not let the bot write to the sender.
   */
  directMessage?(): Promise<Reply>;
}

/** What the platform lets the adapter do at once, before acknowledging. */
export interface Capabilities {
  /** The adapter can open a form now (Slack `views.open`, Discord modal callback). */
  forms?: boolean;
}

/**
 * The core's synchronous decision on an Incoming, made before any await so an adapter can act on
 * it within the platform's deadline (Slack 3 s, Discord's first interaction response).
 * - `ignore`: nothing to answer (empty message).
 * - `refuse`: answer `text` (to the sender alone where possible) and stop: no queue, no API call.
 * - `form`: open this form now; its submission comes back as the form's command with `values`.
 * - `run`: hand the event to `BridgePort.handle`; `ephemeral` says the output belongs to the sender
 *   alone (admin output, personal data), so an adapter defers or acknowledges accordingly.
 */
export type Decision =
  | { readonly kind: 'ignore' }
  | { readonly kind: 'refuse'; readonly text: string }
  | { readonly kind: 'form'; readonly form: FormSpec }
  | { readonly kind: 'run'; readonly command: string | undefined; readonly ephemeral: boolean };

/** An autocomplete request (Discord option focus): skips the queue and de-duplication. */
export interface CompletionRequest {
  platform: PlatformName;
  spaceKey: string;
  sender: Sender;
  /** The command's canonical name. */
  command: string;
  /** The argument being typed. */
  argument: string;
  /** What the user has typed so far. */
  partial: string;
}

/** One autocomplete choice; Discord takes at most 25, names and values up to 100 characters. */
export interface Choice {
  name: string;
  value: string;
}

/** What an adapter talks to: the core, seen from outside. */
export interface BridgePort {
  /** Decides synchronously what to do with `incoming` (see `Decision`). Never throws. */
  decide(incoming: Incoming, capabilities?: Capabilities): Decision;
  /**
   * Handles one event: de-duplicates on its dedupe key, queues it on its thread (strict order
   * within a thread), runs it and answers through `reply`. Pass the decision the adapter already
   * acted on; a `form` or `ignore` decision is not run. Resolves when answered; never rejects.
   */
  handle(incoming: Incoming, reply: Reply, decision?: Decision): Promise<void>;
  /** Autocomplete choices (at most 25); an empty list on any failure. Never rejects. */
  complete(request: CompletionRequest): Promise<Choice[]>;
  /**
   * Whether the bot takes part in the thread `threadKey`: it has a session (the bot answered
   * there) or it is the team's thread of a handoff. A store read (one, two when the first misses),
   * shared by every instance and kept across restarts: adapters ask it only where their own
   * in-memory record of followed threads misses, to decide whether a message without a mention is
   * for the bot. Rejects when the store cannot be read.
   */
  followsThread(threadKey: string): Promise<boolean>;
}

/**
 * A platform adapter. `start` connects and begins delivering messages to the core; `stop`
 * disconnects. Answers to a message go through its `Reply`; `send` posts outside a request
 * (handoff relays, alerts, answers kept in the outbox).
 */
export interface Adapter {
  readonly platform: PlatformName;
  start(bridge: BridgePort): Promise<void>;
  stop(): Promise<void>;
  /**
   * Posts `markdown` into the conversation named by `threadKey` (one of this adapter's own thread
   * keys, or a channel address such as `slack:C0123` for TEAM_CHANNEL). Rejects when the
   * platform refuses or cannot be reached; the caller decides whether to keep it for later.
   *
   * Where replies are by message rather than by thread (Telegram), it resolves with the platform
   * references of the messages it posted (`telegram:<chat>:m<message id>`), one per chunk; such a
   * reference is also a `threadKey` for `send`, which then posts as a reply to that message.
   * Human handoff records them so that a team member's reply (`Incoming.replyTo`) finds its
   * handoff. Platforms with threads resolve with nothing.
   */
  send(threadKey: string, markdown: string, options?: SendOptions): Promise<void | string[]>;
  /**
   * Posts `file` (with its caption) into the conversation named by `threadKey`, outside a request,
   * decoding thread keys and references exactly as `send` does: human handoff passes files on with
   * it. Rejects when the platform refuses or cannot be reached. Resolves like `send`: with the
   * references of what it posted where replies are by message (Telegram), otherwise with nothing.
   * Absent where the adapter cannot post files; handoff then says in text that a file was sent.
   */
  sendFile?(threadKey: string, file: OutgoingFile): Promise<void | string[]>;
  /**
   * Posts `markdown` (a handoff alert) into a channel address (`slack:C0123`, `discord:<channel
   * id>`) and resolves with the thread key that messages in the alert's thread will carry (Slack:
   * `slack:<team>:<channel>:<alert ts>`; Discord: a thread opened on the alert,
   * `discord:<guild>:<thread id>`). From then on the adapter must deliver every human message in
   * that thread to the core, without a mention. Absent where replies are by message (Telegram).
   */
  openThread?(channel: string, markdown: string): Promise<string>;
  /** Reports whether the platform connection is up (for /healthz). */
  isHealthy?(): boolean;
  /**
   * Shutting down, first step: stop taking new events (end polling, leave the gateway's events
   * unhandled) while answers in progress can still be sent; `stop` follows. Absent: nothing to do
   * before `stop` (webhook-only adapters: the HTTP server refuses their routes while draining).
   */
  stopReceiving?(): Promise<void>;
}
