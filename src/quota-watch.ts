/**
 * Watches the plan's monthly message usage (GET /account/ every USAGE_CHECK_MINUTES). When usage
 * first reaches 80% and then 95% of the limit, one alert goes to the log and to TEAM_CHANNEL:
 * once per threshold per month, also across instances (the first to claim
 * `quota:<yyyy-mm>:<threshold>` in the shared store sends it). Months are UTC calendar months.
 */
import type { AsyntaiClient } from './asyntai/client.js';
import type { StateStore } from './core/state-store.js';
import type { Adapter } from './core/types.js';
import type { Logger } from './log.js';

/** Percentages of the monthly limit that raise an alert, highest first. */
const THRESHOLDS = [95, 80] as const;
/** Longer than any month, so a claim lasts until its month is over. */
const CLAIM_TTL_MS = 40 * 24 * 60 * 60_000;

export interface QuotaWatchOptions {
  client: Pick<AsyntaiClient, 'account'>;
  store: StateStore;
  logger: Logger;
  /** Adapters that may carry the alert; the one whose platform prefixes `teamChannel` does. */
  adapters: readonly Adapter[];
  /** TEAM_CHANNEL: `<platform>:<id>`; unset = log only. */
  teamChannel?: string | undefined;
  /** USAGE_CHECK_MINUTES in ms. */
  intervalMs: number;
  /** Injectable clock for tests. */
  now?: () => Date;
}

export class QuotaWatch {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: QuotaWatchOptions) {}

  /** Checks now, then every interval. A failed check is logged and retried at the next. */
  start(): void {
    const tick = () => void this.check().catch((err: unknown) => this.options.logger.warn({ err }, 'quota check failed'));
    tick();
    this.timer = setInterval(tick, this.options.intervalMs).unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One check; resolves with the threshold alerted, if any. */
  async check(): Promise<number | undefined> {
    const { client, store, logger } = this.options;
    const account = await client.account();
    if (account.messages_limit <= 0) return undefined;
    const percent = (account.messages_used / account.messages_limit) * 100;
    const crossed = THRESHOLDS.filter((t) => percent >= t);
    if (crossed.length === 0) return undefined;
    const month = (this.options.now?.() ?? new Date()).toISOString().slice(0, 7);
    // Claim every threshold crossed, but alert only the highest newly claimed: at 96% straight
    // away, "95%" is news and "80%" is noise.
    const claimed: number[] = [];
    for (const threshold of crossed) {
      if (await store.setIfNotExists(`quota:${month}:${threshold}`, account.messages_used, CLAIM_TTL_MS)) claimed.push(threshold);
    }
    const threshold = claimed[0];
    if (threshold === undefined || threshold !== crossed[0]) return undefined;
    const text =
      `⚠️ The Asyntai plan (${account.plan}) has used ${account.messages_used.toLocaleString('en-US')} of its ` +
      `${account.messages_limit.toLocaleString('en-US')} messages this month (${Math.floor(percent)}%, over ${threshold}%). ` +
      `At 100% the assistant stops answering until the plan is upgraded or the month ends.`;
    logger.warn({ used: account.messages_used, limit: account.messages_limit, threshold }, `Asyntai plan usage is over ${threshold}% of the monthly limit`);
    await this.notifyTeam(text);
    return threshold;
  }

  private async notifyTeam(markdown: string): Promise<void> {
    const { teamChannel, adapters, logger } = this.options;
    if (!teamChannel) return;
    const platform = teamChannel.slice(0, teamChannel.indexOf(':'));
    const adapter = adapters.find((a) => a.platform === platform);
    if (!adapter) {
      logger.warn({ teamChannel }, 'TEAM_CHANNEL names a platform whose adapter is not running; the alert is in the log only');
      return;
    }
    await adapter.send(teamChannel, markdown).catch((err: unknown) => logger.warn({ err, teamChannel }, 'could not post the quota alert to TEAM_CHANNEL'));
  }
}
