/**
 * Commands are data: one `CommandDefinition` per file in this folder, listed in `registry.ts`.
 * Adapters derive their platform registrations (Discord application commands, Slack slash
 * commands, Telegram setMyCommands) from the same list, so a new command is one file.
 */
import type { AsyntaiClient } from '../../asyntai/client.js';
import type { Handoff } from '../handoff.js';
import type { SessionMap } from '../session-map.js';
import type { Choice, FormField, Incoming, Reply } from '../types.js';
import type { WebsiteBindings } from '../website-bindings.js';

/** One argument, as platforms with typed options (Discord) register it. */
export interface CommandArgument {
  name: string;
  description: string;
  type: 'string' | 'integer' | 'attachment';
  required: boolean;
}

/** What a handler gets: the message, a way to answer, and the services it may call. */
export interface CommandContext {
  incoming: Incoming;
  reply: Reply;
  /**
   * The argument text, trimmed: as typed, or, for a command of one argument given as a named
   * value (a Discord option), that value.
   */
  args: string;
  /** Named argument values (Discord options, form fields); empty when the command was typed. */
  values: Readonly<Record<string, string>>;
  client: AsyntaiClient;
  sessions: SessionMap;
  websites: WebsiteBindings;
  /** The website this space uses: its binding, else ASYNTAI_WEBSITE_ID, else undefined (primary). */
  websiteId: number | undefined;
  /** The commands this sender may run (for /help). */
  available: readonly CommandDefinition[];
  /** Asks the assistant as if the text had been sent as a message (for /ask). */
  ask(question: string): Promise<void>;
  /** Human handoff (/human, /resume); absent when the bridge runs without it. */
  handoff?: Pick<Handoff, 'request' | 'resume'> | undefined;
}

export interface CommandDefinition {
  /** Lowercase, hyphenated (`kb-add`); Telegram registers it with `_`. */
  name: string;
  /** One line, at most 100 characters (Discord's limit). */
  description: string;
  /** The usage line shown on an argument error, e.g. `/kb-delete <id>`. */
  usage: string;
  args: CommandArgument[];
  adminOnly: boolean;
  /** Output contains personal data: only shown in private or ephemerally. */
  personalData?: boolean;
  /** Fields of a form the adapter opens when the command comes without arguments, where it can. */
  form?: { title: string; fields: FormField[] };
  /**
   * A question platforms with buttons ask before running the command (e.g. a deletion); where
   * there are no buttons the command runs at once, as typed.
   */
  confirmation?: string;
  run(ctx: CommandContext): Promise<void>;
  /** Autocomplete choices for `argument` (Discord), from what the user typed so far. */
  complete?(ctx: CompletionContext, argument: string, partial: string): Promise<Choice[]>;
}

/** What an autocomplete handler gets: no message, no reply, only the services. */
export interface CompletionContext {
  client: AsyntaiClient;
  websiteId: number | undefined;
  /** Aborts API calls that would answer after the platform stopped waiting. */
  signal: AbortSignal;
}

/** Thrown by a handler when its arguments are wrong; the core answers with the usage line. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Parses an optional count argument (`/leads 20`): absent → `fallback`; otherwise a whole number
 * from 1 to `max`, else a UsageError.
 */
export function parseCount(args: string, fallback: number, max = 100): number {
  const text = args.trim();
  if (text === '') return fallback;
  // Quoted shortened: a usage error must not echo a 9,000-character argument back.
  if (!/^\d+$/.test(text)) throw new UsageError(`"${oneLine(text, 40)}" is not a number.`);
  const n = Number(text);
  if (n < 1 || n > max) throw new UsageError(`The number must be between 1 and ${max}.`);
  return n;
}

/** Shortens `text` to `max` characters on one line, for compact lists. */
export function oneLine(text: string | null | undefined, max = 80): string {
  const flat = (text ?? '').replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}
