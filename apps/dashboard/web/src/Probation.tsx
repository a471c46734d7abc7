import { useEffect, useState } from 'react';
import type { AgentDetail } from './api.js';

type Progress = NonNullable<AgentDetail['probation']>;

/** While a probation block is shown, its page refetches at this pace: clean vitals publish no event. */
export const PROBATION_REFRESH_MS = 2_000;

/**
 * Where a probation stands, as the sentinel's lifecycle guard judges it: clean vitals against the minimum and
 * the time left of the probation length. The seconds tick here; the count comes with each refetch.
 */
export function ProbationCountdown({ probation }: { probation: Progress }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1_000);
    return () => clearInterval(timer);
  }, []);
  const left = Math.max(0, Math.ceil((probation.ends_at - now) / 1000));
  const vitals = `${probation.clean_vitals} of ${probation.min_vitals} clean vitals`;
  return (
    <span
      className="probation"
      data-testid="probation-countdown"
      data-clean={probation.clean_vitals}
      data-min={probation.min_vitals}
    >
      On probation: {vitals} · {left > 0 ? `${formatSeconds(left)} left` : 'probation time served'}
    </span>
  );
}

function formatSeconds(total: number): string {
  const minutes = Math.floor(total / 60);
  const seconds = total % 60;
  return minutes > 0 ? `${minutes} min ${seconds} s` : `${seconds} s`;
}
