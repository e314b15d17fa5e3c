import { QueryClientProvider } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { RouterProvider } from 'react-router/dom';
import { session } from '../lib/api/session';
import { createQueryClient } from '../lib/query-client';
import { router } from './router';
import { clearApiCaches } from './service-worker';

export function App() {
  const [queryClient] = useState(createQueryClient);
  useEffect(
    // Whatever ended the session (this tab, another tab, a failed refresh): no data stays.
    () =>
      session.onSignOut(() => {
        queryClient.clear();
        void clearApiCaches();
        // Queued offline writes belong to the person who signed out (loaded on demand: the
        // sign-in page does not need the queue's code).
        void import('../features/sync/outbox').then(({ outbox }) => outbox.clear());
      }),
    [queryClient],
  );
  return (
    <QueryClientProvider client={queryClient}>
      <RouterProvider router={router} />
    </QueryClientProvider>
  );
}
