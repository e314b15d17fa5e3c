import { useState } from 'react';
import { Link, NavLink, Outlet, useNavigate } from 'react-router';
import { signOut } from '../features/auth/api';
import { SearchBox } from '../features/search/SearchBox';
import { SyncNotices } from '../features/sync/SyncNotices';
import { useSync } from '../features/sync/useSync';
import { OfflineStatus } from './OfflineStatus';

export function Component() {
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  useSync();
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="app-header">
        <Link to="/" className="brand">
          <img src="/icon.svg" alt="" width="28" height="28" />
          <span>Taskstream</span>
        </Link>
        <SearchBox />
        <nav aria-label="Account" className="header-nav">
          <NavLink to="/settings/sessions">Settings</NavLink>
          <button
            type="button"
            className="ghost"
            disabled={busy}
            onClick={async () => {
              setBusy(true);
              await signOut().catch(() => undefined);
              navigate('/signin', { replace: true });
            }}
          >
            Sign out
          </button>
        </nav>
      </header>
      <OfflineStatus />
      <SyncNotices />
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
