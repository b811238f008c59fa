/**
 * Demo mode for platform bots (DEMO=1 without ASYNTAI_API_KEY): the emulator's sample shop
 * answers, and people in the chat must not take that for the business's assistant. This wrapper
 * around the core prepends one line to the first public answer in each thread; the store
 * remembers which threads were told, across restarts and instances.
 */
import type { StateStore } from './core/state-store.js';
import type { BridgePort, Reply } from './core/types.js';

/** The line a thread reads once, above its first answer. */
export const DEMO_NOTICE = '_(Demo: answers come from a sample shop, not a real assistant.)_';

/** A thread is told again after this long (a demo rarely runs that long; the key then expires). */
const TOLD_TTL_MS = 30 * 24 * 60 * 60_000;

/** The core, with the demo line added to the first answer of each thread. */
export function withDemoNotice(bridge: BridgePort, store: StateStore): BridgePort {
  return {
    decide: (incoming, capabilities) => bridge.decide(incoming, capabilities),
    complete: (request) => bridge.complete(request),
    followsThread: (threadKey) => bridge.followsThread(threadKey),
    handle: (incoming, reply, decision) => bridge.handle(incoming, noticeOnce(reply, `demo-notice:${incoming.threadKey}`, store), decision),
  };
}

/** `reply` whose first public text carries the notice, unless `key` says the thread was told. */
function noticeOnce(reply: Reply, key: string, store: StateStore): Reply {
  let asked = false;
  return {
    text: async (markdown, options) => {
      // Ephemeral text is the sender's alone; the notice belongs where the thread reads it.
      if (!asked && !options?.ephemeral) {
        asked = true;
        // A store that cannot answer errs towards saying it: better twice than never.
        const first = await store.setIfNotExists(key, true, TOLD_TTL_MS).catch(() => true);
        if (first) return reply.text(`${DEMO_NOTICE}\n\n${markdown}`, options);
      }
      return reply.text(markdown, options);
    },
    ...(reply.file ? { file: reply.file.bind(reply) } : {}),
    ...(reply.typing ? { typing: reply.typing.bind(reply) } : {}),
    ...(reply.ephemeral ? { ephemeral: reply.ephemeral } : {}),
    ...(reply.directMessage ? { directMessage: reply.directMessage.bind(reply) } : {}),
  };
}
