import { useSyncExternalStore } from 'react';
import { session } from '../../lib/api/session';

export function useSessionStatus() {
  return useSyncExternalStore(session.subscribe, session.getStatus);
}
