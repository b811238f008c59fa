/**
 * The adapter boundary for core tests: builds `Incoming` events as an adapter would and records
 * what the core answers through `Reply`. Tests drive `Bridge.handle` with these, like Bolt's
 * FakeReceiver drives an App.
 */
import type { Incoming, OutgoingFile, Reply, SendOptions } from '../../src/core/types.js';

let nextEvent = 0;

/** An Incoming with sensible defaults: an admin in a private shell thread. */
export function incoming(text: string, overrides: Partial<Incoming> = {}): Incoming {
  return {
    platform: 'shell',
    threadKey: 'shell:test',
    spaceKey: 'shell:test',
    dedupeKey: `ev-${process.pid}-${++nextEvent}`,
    sender: { id: 'u1', name: 'Tester', isAdmin: true },
    text,
    attachments: [],
    isPrivate: true,
    ...overrides,
  };
}

export interface RecordingReply extends Reply {
  texts: Array<{ text: string; options: SendOptions | undefined }>;
  files: Array<{ file: OutgoingFile; options: SendOptions | undefined }>;
  typingCount: number;
  /** The sender's DM, where the options gave one; it records on its own. */
  dm?: RecordingReply;
  /** Every text sent, joined: handy for `toContain`. */
  readonly all: string;
}

export interface RecordingReplyOptions {
  /** Omit file support, like a platform without files. */
  noFiles?: boolean;
  /** What the platform can show to the sender alone (Slack: text only; Discord interactions: both). */
  ephemeral?: { text: boolean; file: boolean };
  /** Give the reply a DM conversation with the sender (recorded in `dm`). */
  withDm?: boolean;
  /** Called before each text is recorded; may block or throw to simulate a slow or failing platform. */
  beforeText?: (text: string) => Promise<void> | void;
}

export function recordingReply(options: RecordingReplyOptions = {}): RecordingReply {
  const reply: RecordingReply = {
    texts: [],
    files: [],
    typingCount: 0,
    get all() {
      return reply.texts.map((t) => t.text).join('\n');
    },
    ...(options.ephemeral ? { ephemeral: options.ephemeral } : {}),
    async text(text, sendOptions) {
      // A platform asked for privacy it cannot give must refuse, never post publicly.
      if (sendOptions?.ephemeral && !options.ephemeral?.text) throw new Error('ephemeral text requested but not supported');
      await options.beforeText?.(text);
      reply.texts.push({ text, options: sendOptions });
    },
    typing() {
      reply.typingCount++;
      return Promise.resolve();
    },
  };
  if (!options.noFiles) {
    reply.file = (file, sendOptions) => {
      if (sendOptions?.ephemeral && !options.ephemeral?.file) return Promise.reject(new Error('ephemeral file requested but not supported'));
      reply.files.push({ file, options: sendOptions });
      return Promise.resolve();
    };
  }
  if (options.withDm) {
    const dm = recordingReply({ noFiles: options.noFiles });
    reply.dm = dm;
    reply.directMessage = () => Promise.resolve(dm);
  }
  return reply;
}
