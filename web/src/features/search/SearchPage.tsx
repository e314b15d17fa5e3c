import { Link, useSearchParams } from 'react-router';
import { ErrorMessage } from '../../components/ErrorMessage';
import { statusLabel } from '../tasks/types';
import { useSearch } from './api';
import { Highlight } from './Highlight';

export function Component() {
  const [params] = useSearchParams();
  const q = (params.get('q') ?? '').trim();
  const search = useSearch(q);
  const data = search.data;

  return (
    <section className="page search-page" aria-labelledby="search-title">
      <h1 id="search-title">{q ? `Results for “${q}”` : 'Search'}</h1>
      {!q && <p className="muted">Type in “Search tasks” above.</p>}
      <ErrorMessage error={search.error} />
      {data && q && (
        <>
          <p className="muted" role="status">
            {data.total === 1 ? '1 task' : `${data.total} tasks`} found
            {search.isPlaceholderData ? ' (updating…)' : ''}
          </p>
          <ul aria-label="Search results" className="results">
            {data.items.map((hit) => (
              <li key={hit.task.id} className="result">
                <Link to={`/tasks/${hit.task.id}`} className="task-title">
                  <Highlight html={hit.highlights.title} fallback={hit.task.title} />
                </Link>
                <span className={`badge status-${hit.task.status}`}>
                  {statusLabel(hit.task.status)}
                </span>
                {hit.highlights.description && (
                  <p className="snippet">
                    <Highlight html={hit.highlights.description} fallback="" />
                  </p>
                )}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
