/**
 * The terminal adapter (after Hubot's and Errbot's shell): lines from stdin, answers on stdout,
 * the local user is an admin, commands start with `/`. A file is attached by naming it with `@`:
 * `/kb-upload @products.csv`.
 *
 * On a terminal it is a small chat program: readline line editing (arrows, Ctrl-L, history kept
 * in a file across runs), a "thinking…" spinner while an answer is pending, answers rendered with
 * ANSI styles and wrapped to the window's width. Through a pipe it is a filter: no prompt,
 * no spinner, plain text, each line answered in order, and `finished` resolves at the end of
 * input — stdout then holds the answers and nothing else.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { findCommand, UsageError, type Adapter, type Attachment, type BridgePort, type Incoming, type OutgoingFile, type Reply } from '../../src/core/index.js';
import { renderTerminal } from './terminal-text.js';

export interface ShellAdapterOptions {
  input?: Readable;
  output?: Writable;
  /** Where files the bot sends (e.g. leads.csv) are saved; a temp folder by default. */
  downloadDir?: string;
  /** Chat-program mode (prompt, line editing, spinner); defaults to whether input and output are terminals. */
  interactive?: boolean;
  /** ANSI styles in answers; defaults to whether output is a terminal. */
  ansi?: boolean;
  /** Where the line history is kept between runs (interactive only; its folder must exist); none by default. */
  historyFile?: string;
  /** Lines shown under the greeting (interactive only), e.g. where the log goes. */
  notices?: readonly string[];
}

/** Lines of history kept; the file is trimmed to this on start. */
const HISTORY_SIZE = 500;
const SPINNER_FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const SPINNER_TICK_MS = 100;
/** How the terminal attaches a file, shown wherever the core shows /kb-upload's usage. */
const KB_UPLOAD_USAGE = '/kb-upload @file.csv';

export class ShellAdapter implements Adapter {
  readonly platform = 'shell' as const;
  /** Resolves when the input has ended and every line has been answered. */
  readonly finished: Promise<void>;
  private resolveFinished!: () => void;
  private readonly input: Readable;
  private readonly output: Writable & { columns?: number };
  private readonly interactive: boolean;
  private readonly ansi: boolean;
  private readonly downloadDir: string;
  private readonly options: ShellAdapterOptions;
  /** Event ids must not repeat across runs: the store remembers handled ids for a day. */
  private readonly runId = randomBytes(4).toString('hex');
  private lineNo = 0;
  private reader: Interface | undefined;
  private closed = false;
  /** A line is being answered: its own spinner and prompt frame the output. */
  private answering = false;
  private stopSpinner: (() => void) | undefined;

  constructor(options: ShellAdapterOptions = {}) {
    this.options = options;
    this.input = options.input ?? process.stdin;
    this.output = options.output ?? process.stdout;
    const outputIsTty = Boolean((this.output as { isTTY?: boolean }).isTTY);
    this.interactive = options.interactive ?? (Boolean((this.input as { isTTY?: boolean }).isTTY) && outputIsTty);
    this.ansi = options.ansi ?? outputIsTty;
    this.downloadDir = options.downloadDir ?? join(tmpdir(), 'asyntai-bridge');
    this.finished = new Promise((r) => (this.resolveFinished = r));
  }

  start(bridge: BridgePort): Promise<void> {
    const historyFile = this.interactive ? this.options.historyFile : undefined;
    const reader = createInterface({
      input: this.input,
      output: this.interactive ? this.output : undefined,
      terminal: this.interactive,
      history: historyFile ? loadHistory(historyFile) : [],
      historySize: HISTORY_SIZE,
      removeHistoryDuplicates: true,
    });
    this.reader = reader;
    if (this.interactive) {
      reader.setPrompt('you> ');
      // Raw mode turns Ctrl+C into a key press: let it quit, as it does everywhere else.
      reader.on('SIGINT', () => reader.close());
      const greeting = ['Type a question, or /help for commands. Ctrl+D quits.', ...(this.options.notices ?? [])];
      this.output.write(`${greeting.join('\n')}\n`);
      reader.prompt();
    }
    // One line at a time: the answers come out in the order the questions went in.
    let answered = Promise.resolve();
    reader.on('line', (line) => {
      if (historyFile && line.trim() !== '') rememberLine(historyFile, line);
      answered = answered.then(() => this.answerLine(bridge, line));
    });
    reader.once('close', () => {
      this.closed = true;
      void answered.then(() => {
        if (this.interactive) this.output.write('\n');
        this.resolveFinished();
      });
    });
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.reader?.close();
    return Promise.resolve();
  }

  /**
   * The terminal has one conversation: whatever is sent outside a request (a handoff relay, a
   * kept answer) is printed there. At an idle prompt it goes above the prompt, and the line being
   * typed is drawn again below it.
   */
  async send(_threadKey: string, markdown: string): Promise<void> {
    const atPrompt = this.interactive && !this.closed && !this.answering;
    if (atPrompt) this.output.write('\r\x1b[K');
    await this.reply().text(markdown);
    if (atPrompt) this.reader?.prompt(true);
  }

  /** Saves a file sent outside a request (a handoff relay) to the download folder and prints where, as answers with files do. */
  async sendFile(_threadKey: string, file: OutgoingFile): Promise<void> {
    const atPrompt = this.interactive && !this.closed && !this.answering;
    if (atPrompt) this.output.write('\r\x1b[K');
    const path = await this.saveFile(file);
    // "Ann (support) sent a file: report.pdf, saved to …"
    await this.reply().text(`${file.caption ?? 'A file'}: ${file.name}, saved to \`${path}\``);
    if (atPrompt) this.reader?.prompt(true);
  }

  /** Writes `file` into the download folder; resolves with its path. */
  private async saveFile(file: OutgoingFile): Promise<string> {
    await mkdir(this.downloadDir, { recursive: true });
    const path = join(this.downloadDir, `${Date.now()}-${basename(file.name)}`);
    await writeFile(path, file.data);
    return path;
  }

  private async answerLine(bridge: BridgePort, line: string): Promise<void> {
    const live = () => this.interactive && !this.closed;
    this.answering = true;
    if (line.trim() !== '') {
      // Keys typed while waiting stay buffered instead of echoing into the answer.
      if (live()) this.reader?.pause();
      this.startSpinner();
      try {
        await bridge.handle(await this.toIncoming(line), this.reply());
      } finally {
        this.stopSpinner?.();
        if (live()) this.reader?.resume();
      }
    }
    this.answering = false;
    if (live()) this.reader?.prompt();
  }

  /**
   * "thinking…" on the line below the question until the first output (interactive only). The
   * first frame comes after one tick, so instant answers (most commands) show no flicker.
   */
  private startSpinner(): void {
    if (!this.interactive) return;
    let frame = 0;
    const timer = setInterval(() => this.output.write(`\r${SPINNER_FRAMES[frame++ % SPINNER_FRAMES.length]} thinking…`), SPINNER_TICK_MS);
    this.stopSpinner = () => {
      clearInterval(timer);
      this.stopSpinner = undefined;
      if (frame > 0) this.output.write('\r\x1b[K');
    };
  }

  private async toIncoming(line: string): Promise<Incoming> {
    const attachments: Attachment[] = [];
    let text = line;
    const fileArg = /(?:^|\s)@(\S+)\s*$/.exec(line);
    if (line.startsWith('/') && fileArg) {
      attachments.push(await fileAttachment(fileArg[1]!));
      text = line.slice(0, fileArg.index).trimEnd();
    }
    return {
      platform: 'shell',
      threadKey: 'shell:local',
      spaceKey: 'shell:local',
      dedupeKey: `${this.runId}-${++this.lineNo}`,
      sender: { id: 'local', name: 'you', isAdmin: true },
      text,
      attachments,
      isPrivate: true,
    };
  }

  private reply(): Reply {
    const write = (text: string) =>
      new Promise<void>((resolveWrite, reject) => {
        this.stopSpinner?.();
        this.output.write(`${text}\n\n`, (err) => (err ? reject(err) : resolveWrite()));
      });
    return {
      text: (markdown) => write(this.render(markdown)),
      file: async (file: OutgoingFile) => {
        const path = await this.saveFile(file);
        await write(this.render(`(${file.caption ?? file.name} saved to \`${path}\`)`));
      },
    };
  }

  /** Markdown as the terminal shows it: styled and wrapped on a terminal, plain through a pipe. */
  private render(markdown: string): string {
    const kbUpload = findCommand('kb-upload')?.usage;
    const text = kbUpload ? markdown.split(kbUpload).join(KB_UPLOAD_USAGE) : markdown;
    // Read per answer: the window may have been resized since the last one.
    const width = this.interactive ? this.output.columns : undefined;
    return renderTerminal(text, { ansi: this.ansi, ...(width ? { width } : {}) }).replace(/\n+$/, '');
  }
}

async function fileAttachment(path: string): Promise<Attachment> {
  const full = resolve(path);
  const size = await stat(full).then(
    (s) => (s.isFile() ? s.size : undefined),
    () => undefined,
  );
  if (size === undefined) {
    return { name: basename(full), download: () => Promise.reject(new UsageError(`There is no file at ${full}.`)) };
  }
  return { name: basename(full), size, download: () => readFile(full) };
}

/** The history file's lines, most recent first (readline's order); trims the file when it grew. */
function loadHistory(file: string): string[] {
  let lines: string[];
  try {
    lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
  if (lines.length > HISTORY_SIZE * 2) {
    lines = lines.slice(-HISTORY_SIZE);
    writeFileSync(file, `${lines.join('\n')}\n`);
  }
  return lines.slice(-HISTORY_SIZE).reverse();
}

/** Appends one line to the history file; history is a convenience, so a failure is ignored. */
function rememberLine(file: string, line: string): void {
  try {
    appendFileSync(file, `${line}\n`);
  } catch {
    // e.g. a read-only data folder: the chat goes on without history.
  }
}
