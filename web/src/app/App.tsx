import { QueryClientProvider } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { RouterProvider } from 'react-router/dom';
import { outbox } from '../features/sync/outbox';
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
        // Queued offline writes belong to the person who signed out.
        void outbox.clear();
      }),
    [queryClient],
  );
  return (
    <QueryClientProvider client={queryClient}>
      <RouterProvider router={router} />
    </QueryClientProvider>
  );
}
