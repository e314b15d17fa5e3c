import { useEffect, useSyncExternalStore } from 'react';
import { Navigate, Outlet, useLocation } from 'react-router';
import { refreshAccessToken, session } from '../../lib/api/session';

const RETRY_OFFLINE_MS = 3_000;

/** Signed-in pages: wait for the first refresh, send strangers to /signin, recover offline. */
export function RequireSession() {
  const status = useSyncExternalStore(session.subscribe, session.getStatus);
  const location = useLocation();

  useEffect(() => {
    if (status !== 'offline') return;
    const retry = () => void refreshAccessToken().catch(() => undefined);
    window.addEventListener('online', retry);
    const timer = window.setInterval(retry, RETRY_OFFLINE_MS);
    return () => {
      window.removeEventListener('online', retry);
      window.clearInterval(timer);
    };
  }, [status]);

  if (status === 'unknown') {
    return (
      <p className="center-page" role="status">
        Loading…
      </p>
    );
  }
  if (status === 'signed-out') {
    return <Navigate to="/signin" replace state={{ from: location.pathname + location.search }} />;
  }
  return <Outlet />;
}
