import { NavLink, Outlet } from 'react-router';

export function Component() {
  return (
    <div className="page settings">
      <h1>Settings</h1>
      <nav aria-label="Settings sections" className="tabs">
        <NavLink to="/settings/sessions">Sessions</NavLink>
        <NavLink to="/settings/api-keys">API keys</NavLink>
        <NavLink to="/settings/accounts">Linked accounts</NavLink>
      </nav>
      <Outlet />
    </div>
  );
}
