import { checkDailyCaps, hasDailyCaps, secondsToUtcMidnight, utcDay } from '../../../lambdas/core/spend';

describe('daily spend caps', () => {
  const now = new Date('2026-03-10T22:30:00.000Z');

  it('counts UTC days and the seconds to the next midnight UTC', () => {
    expect(utcDay(now)).toBe('2026-03-10');
    expect(utcDay(new Date('2026-03-10T23:59:59.999-05:00'))).toBe('2026-03-11');
    expect(secondsToUtcMidnight(now)).toBe(90 * 60);
    expect(secondsToUtcMidnight(new Date('2026-03-10T23:59:59.900Z'))).toBe(1);
  });

  it('refuses at or past the user cap, saying which cap and when it resets', () => {
    const d = checkDailyCaps({ userMicros: 5_000_000, totalMicros: 5_000_000 }, { dailyUsdPerUser: 5, dailyUsdTotal: 200 }, now);
    expect(d).toMatchObject({ ok: false, scope: 'user', retryAfterSeconds: 5400 });
    expect(!d.ok && d.message).toMatch(/your daily spend limit of \$5 is reached .* midnight UTC \(in 1 h 30 min\)/);
    expect(checkDailyCaps({ userMicros: 4_999_999, totalMicros: 0 }, { dailyUsdPerUser: 5 }, now)).toEqual({ ok: true, degrade: false });
  });

  it('refuses everyone past the deployment cap', () => {
    const d = checkDailyCaps({ userMicros: 0, totalMicros: 200_000_000 }, { dailyUsdPerUser: 5, dailyUsdTotal: 200 }, now);
    expect(d).toMatchObject({ ok: false, scope: 'total' });
    expect(!d.ok && d.message).toContain("deployment's daily spend limit of $200");
  });

  it('degrades to the fallback model past fallbackAt of either cap', () => {
    const caps = { dailyUsdPerUser: 10, dailyUsdTotal: 100, fallbackAt: 0.8 };
    expect(checkDailyCaps({ userMicros: 7_999_999, totalMicros: 0 }, caps, now)).toEqual({ ok: true, degrade: false });
    expect(checkDailyCaps({ userMicros: 8_000_000, totalMicros: 0 }, caps, now)).toEqual({ ok: true, degrade: true });
    expect(checkDailyCaps({ userMicros: 0, totalMicros: 80_000_000 }, caps, now)).toEqual({ ok: true, degrade: true });
  });

  it('knows when no cap is set', () => {
    expect(hasDailyCaps({})).toBe(false);
    expect(hasDailyCaps({ dailyUsdTotal: 1 })).toBe(true);
    expect(checkDailyCaps({ userMicros: 1e12, totalMicros: 1e12 }, {}, now)).toEqual({ ok: true, degrade: false });
  });
});
