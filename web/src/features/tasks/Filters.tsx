import { PRIORITIES, STATUSES, type TaskFilters, type TaskSort } from './types';

const SORTS: { value: TaskSort; label: string }[] = [
  { value: '-created_at', label: 'Newest first' },
  { value: 'created_at', label: 'Oldest first' },
  { value: '-updated_at', label: 'Recently updated' },
  { value: 'due_date', label: 'Due date' },
  { value: '-priority', label: 'Priority' },
];

export function Filters({
  filters,
  onChange,
}: {
  filters: TaskFilters;
  onChange: (filters: TaskFilters) => void;
}) {
  function set<K extends keyof TaskFilters>(key: K, value: TaskFilters[K] | '') {
    const next = { ...filters, [key]: value === '' ? undefined : value };
    // Unset filters leave the query key (and the URL) instead of sending empty values.
    onChange(Object.fromEntries(Object.entries(next).filter(([, v]) => v !== undefined)));
  }
  return (
    <section aria-label="Filters" className="filters">
      <label>
        Status
        <select
          value={filters.status ?? ''}
          onChange={(e) => set('status', e.target.value as TaskFilters['status'] | '')}
        >
          <option value="">Any</option>
          {STATUSES.map((s) => (
            <option key={s.value} value={s.value}>
              {s.label}
            </option>
          ))}
        </select>
      </label>
      <label>
        Priority
        <select
          value={filters.priority ?? ''}
          onChange={(e) => set('priority', e.target.value as TaskFilters['priority'] | '')}
        >
          <option value="">Any</option>
          {PRIORITIES.map((p) => (
            <option key={p.value} value={p.value}>
              {p.label}
            </option>
          ))}
        </select>
      </label>
      <label>
        Tag
        <input
          value={filters.tag ?? ''}
          maxLength={32}
          onChange={(e) => set('tag', e.target.value.trim())}
        />
      </label>
      <label>
        Due before
        <input
          type="date"
          value={filters.due_before?.slice(0, 10) ?? ''}
          onChange={(e) => set('due_before', e.target.value ? `${e.target.value}T00:00:00Z` : '')}
        />
      </label>
      <label>
        Sort
        <select
          value={filters.sort ?? '-created_at'}
          onChange={(e) => set('sort', e.target.value as TaskSort)}
        >
          {SORTS.map((s) => (
            <option key={s.value} value={s.value}>
              {s.label}
            </option>
          ))}
        </select>
      </label>
    </section>
  );
}
