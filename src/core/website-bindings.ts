/**
 * Which Asyntai website a space (Discord guild, Slack workspace, Telegram chat, the shell) uses,
 * set by `/website <id>` and kept in the store so it survives restarts.
 */
import type { StateStore } from './state-store.js';

export class WebsiteBindings {
  constructor(
    private readonly store: StateStore,
    /** ASYNTAI_WEBSITE_ID; undefined means the account's primary website. */
    private readonly fallback: number | undefined,
  ) {}

  /** The website id for `spaceKey`: its binding, else the configured default. */
  async resolve(spaceKey: string): Promise<number | undefined> {
    return (await this.bound(spaceKey)) ?? this.fallback;
  }

  /** The binding alone, without the fallback. */
  bound(spaceKey: string): Promise<number | undefined> {
    return this.store.get<number>(`website:${spaceKey}`);
  }

  async bind(spaceKey: string, websiteId: number): Promise<void> {
    await this.store.set(`website:${spaceKey}`, websiteId);
  }
}
