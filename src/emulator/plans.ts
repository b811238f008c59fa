/**
 * Plan limits of the emulated account. Paid plans follow the reference; the free plan's upload
 * and row limits are not documented (the vendor says API access needs a paid plan), so the
 * emulator picks small ones that still let a developer try every endpoint.
 */

/** The plans an emulated account can be on. */
export type PlanName = 'free' | 'starter' | 'standard' | 'pro';

/** What a plan allows. */
export interface PlanLimits {
  /** Answered /chat/ messages per calendar month (UTC). */
  messagesPerMonth: number;
  /** Characters uploaded per UTC day, shared by text, URL and spreadsheet uploads. */
  uploadCharsPerDay: number;
  /** Rows kept per spreadsheet upload; the rest are truncated. */
  spreadsheetRows: number;
}

/** Limits per plan. */
export const PLANS: Readonly<Record<PlanName, PlanLimits>> = {
  free: { messagesPerMonth: 100, uploadCharsPerDay: 10_000, spreadsheetRows: 100 },
  starter: { messagesPerMonth: 2_500, uploadCharsPerDay: 100_000, spreadsheetRows: 500 },
  standard: { messagesPerMonth: 15_000, uploadCharsPerDay: 500_000, spreadsheetRows: 2_000 },
  pro: { messagesPerMonth: 50_000, uploadCharsPerDay: 2_000_000, spreadsheetRows: 10_000 },
};

/** Whether `value` names a plan. */
export function isPlanName(value: string): value is PlanName {
  return Object.hasOwn(PLANS, value);
}
