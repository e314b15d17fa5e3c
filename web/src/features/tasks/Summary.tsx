import { useTaskStats } from './api';
import { STATUSES } from './types';

export function Summary() {
  const { data } = useTaskStats();
  return (
    <section aria-label="Summary" className="summary">
      <dl>
        {STATUSES.map((s) => (
          <div key={s.value} className={`stat stat-${s.value}`}>
            <dt>{s.label}</dt>
            <dd>{data ? data.by_status[s.value] : '–'}</dd>
          </div>
        ))}
        <div className="stat">
          <dt>Overdue</dt>
          <dd>{data ? data.overdue : '–'}</dd>
        </div>
        <div className="stat">
          <dt>Total</dt>
          <dd>{data ? data.total : '–'}</dd>
        </div>
      </dl>
    </section>
  );
}
