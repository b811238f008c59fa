/**
 * The terminal adapter (after Hubot's and Errbot's shell): lines from stdin, answers on stdout,
 * the local user is an admin, commands start with `/`. It works through a pipe: each line is
 * answered in order and `finished` resolves at the end of input.
 *
 * A file is attached by naming it with `@`: `/kb-upload @products.csv`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { UsageError, type Adapter, type Attachment, type BridgePort, type Incoming, type OutgoingFile, type Reply } from '../../src/core/index.js';

export interface ShellAdapterOptions {
  input?: Readable;
  output?: Writable;
  /** Where files the bot sends (e.g. leads.csv) are saved; a temp folder by default. */
  downloadDir?: string;
  /** Show a prompt; defaults to whether input is a terminal. */
  interactive?: boolean;
}

export class ShellAdapter implements Adapter {
  readonly platform = 'shell' as const;
  /** Resolves when the input has ended and every line has been answered. */
  readonly finished: Promise<void>;
  private resolveFinished!: () => void;
  private readonly input: Readable;
  private readonly output: Writable;
  private readonly interactive: boolean;
  private readonly downloadDir: string;
  /** Event ids must not repeat across runs: the store remembers handled ids for a day. */
  private readonly runId = randomBytes(4).toString('hex');
  private lineNo = 0;
  private closeReader: (() => void) | undefined;

  constructor(options: ShellAdapterOptions = {}) {
    this.input = options.input ?? process.stdin;
    this.output = options.output ?? process.stdout;
    this.interactive = options.interactive ?? Boolean((this.input as { isTTY?: boolean }).isTTY);
    this.downloadDir = options.downloadDir ?? join(tmpdir(), 'asyntai-bridge');
    this.finished = new Promise((r) => (this.resolveFinished = r));
  }

  start(bridge: BridgePort): Promise<void> {
    const reader = createInterface({ input: this.input, terminal: false });
    this.closeReader = () => reader.close();
    const prompt = () => {
      if (this.interactive) this.output.write('you> ');
    };
    if (this.interactive) this.output.write('Type a question, or /help for commands. Ctrl+D quits.\n');
    prompt();
    void (async () => {
      // One line at a time: the answers come out in the order the questions went in.
      for await (const line of reader) {
        if (line.trim() !== '') await bridge.handle(await this.toIncoming(line), this.reply());
        prompt();
      }
      this.resolveFinished();
    })();
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.closeReader?.();
    return Promise.resolve();
  }

  /** The terminal has one conversation: whatever is sent outside a request is printed there. */
  send(_threadKey: string, markdown: string): Promise<void> {
    return this.reply().text(markdown);
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
      new Promise<void>((resolveWrite, reject) => this.output.write(`${text}\n\n`, (err) => (err ? reject(err) : resolveWrite())));
    return {
      text: (markdown) => write(markdown),
      file: async (file: OutgoingFile) => {
        await mkdir(this.downloadDir, { recursive: true });
        const path = join(this.downloadDir, `${Date.now()}-${basename(file.name)}`);
        await writeFile(path, file.data);
        await write(`(${file.caption ?? file.name} saved to ${path})`);
      },
    };
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
