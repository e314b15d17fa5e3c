import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../../lib/api/client';
import { consistencyHeaders } from '../../lib/api/consistency';

export const searchKeys = {
  all: ['search'] as const,
  query: (q: string) => [...searchKeys.all, q] as const,
};

/**
 * Results for `q`. Each query has its own cache key, so an answer that arrives after the user
 * typed on is never shown for the newer text; its request is aborted when the key changes.
 */
export function useSearch(q: string) {
  return useQuery({
    queryKey: searchKeys.query(q),
    queryFn: ({ signal }) =>
      unwrap(
        api.GET('/api/v1/search', {
          params: { query: { q, limit: 50 } },
          headers: consistencyHeaders(),
          signal,
        }),
      ),
    enabled: q.length > 0,
    placeholderData: keepPreviousData,
    staleTime: 5_000,
  });
}
