/**
 * The emulator's whole state, kept in memory and optionally persisted as one JSON file.
 * Saves are debounced so a burst of chats costs one write, and always go through a temporary
 * file plus rename so a crash never leaves a half-written state behind.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface WebsiteRecord {
  id: number;
  name: string;
  domain: string;
  is_primary: boolean;
}

export type KnowledgeType = 'text' | 'url' | 'spreadsheet';

export interface KnowledgeRecord {
  id: string;
  websiteId: number;
  type: KnowledgeType;
  title: string;
  description: string;
  url: string | null;
  createdAt: string;
  /** The retrievable pieces of this entry; the search index is rebuilt from them on load. */
  chunks: string[];
}

export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
  timestamp: string;
}

export interface LeadRecord {
  email: string | null;
  phone: string | null;
  pageUrl: string | null;
  startedAt: string;
}

export interface SessionRecord {
  id: string;
  websiteId: number;
  source: 'api';
  messages: ChatMessage[];
  lead: LeadRecord | null;
  /** Set while an agent has taken the session over (emulator-only route); /chat/ then stays silent. */
  takeoverSince?: string;
}

export interface WebhookRecord {
  id: string;
  url: string;
  events: string[];
  secret: string;
  /** Only events of this website are delivered; null = every website. */
  websiteId: number | null;
  isActive: boolean;
  createdAt: string;
}

/** Counters behind the monthly message limit and the daily upload limit (UTC periods). */
export interface Usage {
  month: string;
  messagesUsed: number;
  day: string;
  uploadChars: number;
}

interface StateFile {
  version: 1;
  websites: WebsiteRecord[];
  knowledge: KnowledgeRecord[];
  sessions: SessionRecord[];
  webhooks: WebhookRecord[];
  usage: Usage;
}

const SAVE_DEBOUNCE_MS = 250;

/** In-memory state with persistence; callers mutate the collections and then call `changed()`. */
export class StateStore {
  readonly websites: WebsiteRecord[];
  readonly knowledge: Map<string, KnowledgeRecord>;
  readonly sessions: Map<string, SessionRecord>;
  readonly webhooks: Map<string, WebhookRecord>;
  private usage: Usage;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    file: StateFile,
    private readonly dataPath: string | undefined,
  ) {
    this.websites = file.websites;
    this.knowledge = new Map(file.knowledge.map((k) => [k.id, k]));
    this.sessions = new Map(file.sessions.map((s) => [s.id, s]));
    this.webhooks = new Map(file.webhooks.map((w) => [w.id, w]));
    this.usage = file.usage;
  }

  /**
   * Loads the state from `dataPath` when that file exists; otherwise starts from `initial`.
   * `loaded` tells the caller whether seeding is still needed.
   */
  static async open(
    dataPath: string | undefined,
    initialWebsites: WebsiteRecord[],
  ): Promise<{ store: StateStore; loaded: boolean }> {
    if (dataPath !== undefined) {
      const text = await readFile(dataPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (text !== undefined) return { store: new StateStore(parseStateFile(text, dataPath), dataPath), loaded: true };
    }
    const empty: StateFile = {
      version: 1,
      websites: initialWebsites,
      knowledge: [],
      sessions: [],
      webhooks: [],
      usage: { month: monthOf(new Date()), messagesUsed: 0, day: dayOf(new Date()), uploadChars: 0 },
    };
    return { store: new StateStore(empty, dataPath), loaded: false };
  }

  /** The primary website (there is always exactly one). */
  get primaryWebsite(): WebsiteRecord {
    const primary = this.websites.find((w) => w.is_primary) ?? this.websites[0];
    if (primary === undefined) throw new Error('emulator state has no website');
    return primary;
  }

  /** Messages answered this month. */
  messagesUsed(now = new Date()): number {
    return this.rolled(now).messagesUsed;
  }

  /** Characters uploaded today. */
  uploadCharsToday(now = new Date()): number {
    return this.rolled(now).uploadChars;
  }

  countMessage(now = new Date()): void {
    this.rolled(now).messagesUsed += 1;
    this.changed();
  }

  countUpload(chars: number, now = new Date()): void {
    this.rolled(now).uploadChars += chars;
    this.changed();
  }

  /** Schedules a save (no-op without dataPath). */
  changed(): void {
    if (this.dataPath === undefined || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // A failed background save is not fatal: the next change or close() writes everything again
      // and close() reports the error if it persists.
      this.flush().catch(() => undefined);
    }, SAVE_DEBOUNCE_MS);
    this.timer.unref();
  }

  /** Writes the state now (waiting for any write in progress first). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const path = this.dataPath;
    if (path === undefined) return;
    const file: StateFile = {
      version: 1,
      websites: this.websites,
      knowledge: [...this.knowledge.values()],
      sessions: [...this.sessions.values()],
      webhooks: [...this.webhooks.values()],
      usage: this.usage,
    };
    const text = JSON.stringify(file);
    this.writing = this.writing
      .catch(() => undefined)
      .then(async () => {
        await mkdir(dirname(path), { recursive: true });
        await writeFile(`${path}.tmp`, text);
        await rename(`${path}.tmp`, path);
      });
    await this.writing;
  }

  /** Resets the counters when a new month or day has begun. */
  private rolled(now: Date): Usage {
    const month = monthOf(now);
    const day = dayOf(now);
    if (this.usage.month !== month) this.usage = { ...this.usage, month, messagesUsed: 0 };
    if (this.usage.day !== day) this.usage = { ...this.usage, day, uploadChars: 0 };
    return this.usage;
  }
}

function parseStateFile(text: string, path: string): StateFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path} is not valid JSON`, { cause: err });
  }
  const file = parsed as Partial<StateFile> | null;
  const ok =
    file !== null &&
    typeof file === 'object' &&
    file.version === 1 &&
    [file.websites, file.knowledge, file.sessions, file.webhooks].every(Array.isArray) &&
    typeof file.usage === 'object';
  // Refuse rather than overwrite: the file may be something else the user cares about.
  if (!ok || (file.websites ?? []).length === 0) throw new Error(`${path} is not an emulator state file`);
  return file as StateFile;
}

function monthOf(d: Date): string {
  return d.toISOString().slice(0, 7);
}

function dayOf(d: Date): string {
  return d.toISOString().slice(0, 10);
}
