import type { RunPage } from './ports';
import { toMicros, toUsd } from './pricing';

/**
 * Daily spend caps and the deployment's kill switch, as plain decisions. Counters live in DynamoDB
 * (lambdas/store/spend-store.ts: `SPEND#<yyyy-mm-dd>` / `USER#<id>` and `/ TOTAL`, ADD per model call, micro-dollars);
 * the decisions here read them. Days are UTC days.
 */

/** What the core needs from the spend store. */
export interface SpendPort {
  /** Today's spend (micro-dollars) of a user and of the whole deployment. */
  today(userId: string, day: string): Promise<{ userMicros: number; totalMicros: number }>;
  /** Adds one model call's cost to the user's and the deployment's counters of the day (atomic ADD each). */
  add(userId: string, day: string, micros: number): Promise<void>;
  /** True while an admin has disabled new runs. */
  isDisabled(): Promise<boolean>;
}

/** One user's spend of a day. */
export interface UserSpend {
  userId: string;
  micros: number;
  calls: number;
}

/** One admin read of someone's run (the support audit log). */
export interface AdminRead {
  at: string;
  adminId: string;
  runId: string;
  owner: string;
  what: string;
}

/** What the admin routes need from the spend store beyond the loop's part (lambdas/store/spend-store.ts). */
export interface AdminSpendPort extends SpendPort {
  /** Turns new runs off (or on again); `by` is the admin. */
  setDisabled(disabled: boolean, by: string): Promise<void>;
  /** A UTC day's totals and each user's spend. */
  day(day: string): Promise<{ totalMicros: number; calls: number; users: UserSpend[] }>;
  /** Records that an admin read a run (or its trace). */
  recordAdminRead(read: Omit<AdminRead, 'at'>): Promise<AdminRead>;
  /** The admin reads of a UTC day, oldest first. */
  adminReads(day: string): Promise<AdminRead[]>;
  /** Support access: any user's runs, optionally one status and a createdAt range; follow `nextCursor`. */
  listRunsForSupport(query: { userId?: string; status?: string; from?: string; to?: string; cursor?: string; limit?: number }): Promise<RunPage>;
}

export interface DailyCaps {
  dailyUsdPerUser?: number;
  dailyUsdTotal?: number;
  fallbackAt?: number;
}

/** The UTC day of an instant, `yyyy-mm-dd` (the counters' key). */
export const utcDay = (now: Date): string => now.toISOString().slice(0, 10);

/** Whole seconds from `now` to the next midnight UTC (at least 1): when a daily cap resets. */
export function secondsToUtcMidnight(now: Date): number {
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return Math.max(1, Math.ceil((midnight - now.getTime()) / 1000));
}

export type CapDecision = { ok: true; degrade: boolean } | { ok: false; scope: 'user' | 'total'; message: string; retryAfterSeconds: number };

/**
 * Whether a user may spend more today: past (or at) the user's cap or the deployment's cap → no, with a message that
 * says which cap, how much, and when it resets; past `fallbackAt` of a cap → yes, but on the fallback model.
 */
export function checkDailyCaps(spent: { userMicros: number; totalMicros: number }, caps: DailyCaps, now: Date): CapDecision {
  const retryAfterSeconds = secondsToUtcMidnight(now);
  const resets = `it resets at midnight UTC (in ${formatDuration(retryAfterSeconds)})`;
  if (caps.dailyUsdPerUser !== undefined && spent.userMicros >= toMicros(caps.dailyUsdPerUser)) {
    return {
      ok: false,
      scope: 'user',
      retryAfterSeconds,
      message: `your daily spend limit of $${caps.dailyUsdPerUser} is reached ($${toUsd(spent.userMicros).toFixed(4)} spent today); ${resets}`,
    };
  }
  if (caps.dailyUsdTotal !== undefined && spent.totalMicros >= toMicros(caps.dailyUsdTotal)) {
    return { ok: false, scope: 'total', retryAfterSeconds, message: `the deployment's daily spend limit of $${caps.dailyUsdTotal} is reached; ${resets}` };
  }
  const at = caps.fallbackAt;
  const past = (micros: number, capUsd?: number) => at !== undefined && capUsd !== undefined && micros >= toMicros(capUsd * at);
  return { ok: true, degrade: past(spent.userMicros, caps.dailyUsdPerUser) || past(spent.totalMicros, caps.dailyUsdTotal) };
}

/** True when a config sets any daily cap (only then are counters read before each call). */
export const hasDailyCaps = (caps: DailyCaps): boolean => caps.dailyUsdPerUser !== undefined || caps.dailyUsdTotal !== undefined;

function formatDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.ceil((seconds % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : `${m} min`;
}
