/**
 * The adapter boundary for core tests: builds `Incoming` events as an adapter would and records
 * what the core answers through `Reply`. Tests drive `Bridge.handle` with these, like Bolt's
 * FakeReceiver drives an App.
 */
import type { FormSpec, Incoming, OutgoingFile, Reply, SendOptions } from '../../src/core/types.js';

let nextEvent = 0;

/** An Incoming with sensible defaults: an admin in a private shell thread. */
export function incoming(text: string, overrides: Partial<Incoming> = {}): Incoming {
  return {
    platform: 'shell',
    threadKey: 'shell:test',
    spaceKey: 'shell:test',
    eventId: `ev-${process.pid}-${++nextEvent}`,
    sender: { id: 'u1', name: 'Tester', isAdmin: true },
    text,
    attachments: [],
    isPrivate: true,
    ...overrides,
  };
}

export interface RecordingReply extends Reply {
  texts: Array<{ text: string; options: SendOptions | undefined }>;
  files: OutgoingFile[];
  forms: FormSpec[];
  typingCount: number;
  /** Every text sent, joined: handy for `toContain`. */
  readonly all: string;
}

export interface RecordingReplyOptions {
  /** Omit file support, like a platform without files. */
  noFiles?: boolean;
  canEphemeral?: boolean;
  withForms?: boolean;
  /** Called before each text is recorded; may block or throw to simulate a slow or failing platform. */
  beforeText?: (text: string) => Promise<void> | void;
}

export function recordingReply(options: RecordingReplyOptions = {}): RecordingReply {
  const reply: RecordingReply = {
    texts: [],
    files: [],
    forms: [],
    typingCount: 0,
    get all() {
      return reply.texts.map((t) => t.text).join('\n');
    },
    canEphemeral: options.canEphemeral ?? false,
    async text(text, sendOptions) {
      await options.beforeText?.(text);
      reply.texts.push({ text, options: sendOptions });
    },
    typing() {
      reply.typingCount++;
      return Promise.resolve();
    },
  };
  if (!options.noFiles) {
    reply.file = (file) => {
      reply.files.push(file);
      return Promise.resolve();
    };
  }
  if (options.withForms) {
    reply.openForm = (form) => {
      reply.forms.push(form);
      return Promise.resolve();
    };
  }
  return reply;
}
