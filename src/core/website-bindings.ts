/**
 * Which Asyntai website a space (Discord guild, Slack workspace, Telegram chat, the shell) uses,
 * set by `/website <id>` and kept in the store so it survives restarts.
 */
import type { StateStore } from './state-store.js';
import { TtlCache } from './ttl-cache.js';

/**
 * How long a space's binding (or its absence: most spaces have none) is trusted from memory. A
 * /website here is seen at once; one on another instance sharing the store, within this time.
 */
const BINDING_CACHE_TTL_MS = 30_000;

export class WebsiteBindings {
  private readonly known: TtlCache<number | undefined>;

  constructor(
    private readonly store: StateStore,
    /** ASYNTAI_WEBSITE_ID; undefined means the account's primary website. */
    private readonly fallback: number | undefined,
    cacheTtlMs = BINDING_CACHE_TTL_MS,
  ) {
    this.known = new TtlCache(cacheTtlMs);
  }

  /** The website id for `spaceKey`: its binding, else the configured default. */
  async resolve(spaceKey: string): Promise<number | undefined> {
    return (await this.bound(spaceKey)) ?? this.fallback;
  }

  /** The binding alone, without the fallback. */
  async bound(spaceKey: string): Promise<number | undefined> {
    const cached = this.known.get(spaceKey);
    if (cached) return cached.value;
    const id = await this.store.get<number>(`website:${spaceKey}`);
    this.known.set(spaceKey, id);
    return id;
  }

  async bind(spaceKey: string, websiteId: number): Promise<void> {
    await this.store.set(`website:${spaceKey}`, websiteId);
    this.known.set(spaceKey, websiteId);
  }
}
