import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useSyncExternalStore } from 'react';
import { session } from '../../lib/api/session';
import { flushSoon } from './flush';
import { useLiveEvents } from './live';
import { outbox, type OutboxEntry } from './outbox';
import { currentUserId, userIdOf } from './user';

const RETRY_MS = [2_000, 5_000, 10_000, 30_000];

function useSessionStatus() {
  return useSyncExternalStore(session.subscribe, session.getStatus);
}

/** The signed-in pages' sync: the live event stream, and the queue sent when it can be. */
export function useSync() {
  const client = useQueryClient();
  const status = useSessionStatus();
  useLiveEvents(status === 'signed-in');

  useEffect(() => {
    void outbox.load();
    let timer: number | undefined;
    let failures = 0;
    let stopped = false;
    const flush = () => {
      window.clearTimeout(timer);
      const token = session.getToken();
      const user = userIdOf(token);
      if (user) void outbox.setUser(user);
      void flushSoon(client).then((outcome) => {
        if (stopped) return;
        failures = outcome === 'later' ? failures + 1 : 0;
        if (outcome === 'later' && outbox.pendingFor(currentUserId()).length) {
          timer = window.setTimeout(flush, RETRY_MS[Math.min(failures, RETRY_MS.length) - 1]);
        }
      });
    };
    const unsubscribeSession = session.subscribe(flush);
    const unsubscribeQueue = outbox.subscribe(() => {
      if (outbox.pendingFor(currentUserId()).some((entry) => !entry.conflict)) flush();
    });
    window.addEventListener('online', flush);
    flush();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
      unsubscribeSession();
      unsubscribeQueue();
      window.removeEventListener('online', flush);
    };
  }, [client]);
}

/** The current user's queued writes, oldest first. */
export function usePendingWrites(): OutboxEntry[] {
  const entries = useSyncExternalStore(outbox.subscribe, outbox.getEntries);
  useSessionStatus(); // re-read the user when the session changes
  return entries.filter((entry) => entry.userId === currentUserId());
}

/** Whether writes can be queued now (someone is known to be signed in on this device). */
export function useCanQueue(): boolean {
  useSyncExternalStore(outbox.subscribe, outbox.getUser);
  useSessionStatus();
  return currentUserId() !== null;
}
