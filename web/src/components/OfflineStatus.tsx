import { useSyncExternalStore } from 'react';
import { session } from '../lib/api/session';

function subscribeOnline(onChange: () => void) {
  window.addEventListener('online', onChange);
  window.addEventListener('offline', onChange);
  return () => {
    window.removeEventListener('online', onChange);
    window.removeEventListener('offline', onChange);
  };
}

export function useIsOffline(): boolean {
  const online = useSyncExternalStore(subscribeOnline, () => navigator.onLine);
  const status = useSyncExternalStore(session.subscribe, session.getStatus);
  return !online || status === 'offline';
}

/** A polite live region: empty while online, "Offline …" while the network is gone. */
export function OfflineStatus() {
  const offline = useIsOffline();
  return (
    <div role="status" className={offline ? 'offline-banner' : 'visually-hidden'}>
      {offline
        ? 'Offline: showing your last task list. Changes are kept on this device and sent when you reconnect.'
        : ''}
    </div>
  );
}
