/**
 * Thread key ↔ Asyntai session_id (README "How it is built"). Entries have no TTL: a conversation
 * keeps its session across restarts until /reset.
 */
import { randomBytes } from 'node:crypto';
import type { StateStore } from './state-store.js';
import { TtlCache } from './ttl-cache.js';
import type { PlatformName } from './types.js';

/** Readable in the Asyntai dashboard: which platform a session came from. */
const ID_PREFIX: Record<PlatformName, string> = { telegram: 'tg', slack: 'sl', discord: 'dc', shell: 'sh' };
/** 15 random bytes are exactly 20 base64url characters. */
const ID_RANDOM_BYTES = 15;

/**
 * How long a thread's session id is trusted from memory. A /reset on this instance is seen at
 * once; one on another instance sharing the store, within this time.
 */
const SESSION_CACHE_TTL_MS = 30_000;

const sessionEntry = (threadKey: string) => `session:${threadKey}`;
const threadEntry = (sessionId: string) => `thread:${sessionId}`;

/** Thread key → Asyntai session_id, and back (so webhooks can reach the thread). */
export class SessionMap {
  /** Known session ids; only ids are cached, never "none yet", so a new id elsewhere is found. */
  private readonly known: TtlCache<string>;

  /** `onMint` is told of each thread that got its first session id here (for metrics). */
  constructor(
    private readonly store: StateStore,
    private readonly onMint?: (platform: PlatformName) => void,
    cacheTtlMs = SESSION_CACHE_TTL_MS,
  ) {
    this.known = new TtlCache(cacheTtlMs);
  }

  /** The thread's session id, minted once: two concurrent first calls (even on two instances sharing the store) get the same id. */
  async sessionFor(threadKey: string, platform: PlatformName): Promise<string> {
    for (;;) {
      const existing = await this.peek(threadKey);
      if (existing !== undefined) return existing;
      const candidate = mintSessionId(platform);
      if (await this.store.setIfNotExists(sessionEntry(threadKey), candidate)) {
        await this.store.set(threadEntry(candidate), threadKey);
        this.onMint?.(platform);
        this.known.set(threadKey, candidate);
        return candidate;
      }
      const winner = await this.peek(threadKey);
      if (winner !== undefined) {
        // The winner may not have written its reverse entry yet (or died first): writing the same
        // value again means a webhook for the id we return always finds the thread.
        await this.store.set(threadEntry(winner), threadKey);
        return winner;
      }
      // The winner's entry vanished between our two calls (deleted): mint again.
    }
  }

  /**
   * Replaces the thread's id with a new one (used by /reset); returns it. The old id keeps its
   * reverse entry, so a late webhook for the old session still reaches the thread.
   */
  async reset(threadKey: string, platform: PlatformName): Promise<string> {
    const id = mintSessionId(platform);
    // Reverse first: a crash in between leaves an unused entry rather than an unreachable session.
    await this.store.set(threadEntry(id), threadKey);
    await this.store.set(sessionEntry(threadKey), id);
    this.known.set(threadKey, id);
    return id;
  }

  /** The thread key a session id belongs to, or undefined. */
  threadOf(sessionId: string): Promise<string | undefined> {
    return this.store.get<string>(threadEntry(sessionId));
  }

  /** The thread's session id without minting one, or undefined. */
  async peek(threadKey: string): Promise<string | undefined> {
    const cached = this.known.get(threadKey);
    if (cached) return cached.value;
    const id = await this.store.get<string>(sessionEntry(threadKey));
    if (id !== undefined) this.known.set(threadKey, id);
    return id;
  }
}

function mintSessionId(platform: PlatformName): string {
  return `${ID_PREFIX[platform]}-${randomBytes(ID_RANDOM_BYTES).toString('base64url')}`;
}
