/**
 * The neutral types between adapters and the core. Nothing here names a platform SDK: an adapter
 * turns its SDK's event into an `Incoming` and gives the core a `Reply` to answer through.
 */

/** Platforms the bridge speaks; also the prefix of every thread key. */
export type PlatformName = 'telegram' | 'slack' | 'discord' | 'shell';

/** Who sent a message, as the adapter saw it. */
export interface Sender {
  id: string;
  /** Display name, for logs and greetings only. */
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

/** One message or command, normalised. */
export interface Incoming {
  platform: PlatformName;
  /** The conversation: maps to one Asyntai session (DESIGN.md "Sessions"), e.g. `telegram:42:u7`. */
  threadKey: string;
  /**
   * The space a website binding belongs to: Discord guild, Slack workspace, Telegram chat, the
   * shell. E.g. `telegram:-100123`, `slack:T1`, `discord:G1`, `shell:local`.
   */
  spaceKey: string;
  /** Unique per platform event: the core answers each id at most once. */
  eventId: string;
  sender: Sender;
  /** Text with any bot mention already stripped. */
  text: string;
  /**
   * Set when the platform already parsed a command (slash command, `/kb_add` entity): the
   * canonical hyphenated name and the raw argument text. Otherwise the core treats `text` as a
   * question (and the shell's leading `/` as a command).
   */
  command?: { name: string; args: string };
  attachments: Attachment[];
  /**
   * True where nobody but the sender (and the bot) can read the answer: a private chat, a DM, or
   * a reply the platform shows ephemerally. Personal data (leads) is shown only then.
   */
  isPrivate: boolean;
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
  /** Show only to the sender, where the platform can (Slack, Discord); else an ordinary answer. */
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
  /** The command that receives the submitted values. */
  command: string;
  title: string;
  fields: FormField[];
}

/**
 * How the core answers one Incoming. `text` is markdown-ish plain text: the adapter renders it
 * for its platform (escaping everything the platform would interpret) and splits it under its
 * limit with `splitMessage`. Optional capabilities are optional methods.
 */
export interface Reply {
  text(markdown: string, options?: SendOptions): Promise<void>;
  /** Absent where the platform takes no files. */
  file?(file: OutgoingFile, options?: SendOptions): Promise<void>;
  /** Shows "typing…"; the core renews it every few seconds while waiting for the assistant. */
  typing?(): Promise<void>;
  /** Whether `ephemeral` really hides the answer from others on this platform. */
  readonly canEphemeral?: boolean;
  /** Opens a form; absent where the platform has none. */
  openForm?(form: FormSpec): Promise<void>;
}

/**
 * A platform adapter. `start` connects and begins delivering messages to `handler`; `stop`
 * disconnects. The core never calls the platform otherwise: every answer goes through `Reply`.
 */
export interface Adapter {
  readonly platform: PlatformName;
  start(handler: IncomingHandler): Promise<void>;
  stop(): Promise<void>;
  /** Reports whether the platform connection is up (for /healthz). */
  isHealthy?(): boolean;
}

/** What adapters call for each message; resolves when the message has been handled. */
export type IncomingHandler = (incoming: Incoming, reply: Reply) => Promise<void>;
