import { useEffect, useState } from 'react';
import { useLocation, useNavigate, useSearchParams } from 'react-router';
import { useDebouncedValue } from '../../hooks/useDebouncedValue';

export const SEARCH_DEBOUNCE_MS = 150;

/** The header's searchbox: typing shows results at /search?q= after 150 ms of quiet. */
export function SearchBox() {
  const location = useLocation();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const onSearchPage = location.pathname === '/search';
  const urlQuery = onSearchPage ? (params.get('q') ?? '') : '';
  const [text, setText] = useState(urlQuery);
  const debounced = useDebouncedValue(text, SEARCH_DEBOUNCE_MS);

  useEffect(() => {
    const query = debounced.trim();
    if (query === urlQuery.trim() || (!query && !onSearchPage)) return;
    navigate(`/search?q=${encodeURIComponent(query)}`, { replace: onSearchPage });
    // Only a settled change of the typed text navigates; the URL following it must not.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [debounced]);

  return (
    <form
      role="search"
      className="search-form"
      onSubmit={(event) => {
        event.preventDefault();
        if (text.trim()) navigate(`/search?q=${encodeURIComponent(text.trim())}`);
      }}
    >
      <input
        type="search"
        aria-label="Search tasks"
        placeholder="Search tasks"
        value={text}
        maxLength={200}
        onChange={(event) => setText(event.target.value)}
      />
    </form>
  );
}
