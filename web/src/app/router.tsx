import { createBrowserRouter } from 'react-router';
import { RequireSession } from '../features/auth/RequireSession';
import { RouteError } from '../components/RouteError';

/** Every page is its own chunk: the sign-in page loads no task or settings code. */
export const router = createBrowserRouter([
  { path: '/signin', lazy: () => import('../features/auth/SignInPage'), ErrorBoundary: RouteError },
  {
    path: '/register',
    lazy: () => import('../features/auth/RegisterPage'),
    ErrorBoundary: RouteError,
  },
  {
    Component: RequireSession,
    ErrorBoundary: RouteError,
    children: [
      {
        lazy: () => import('../components/AppLayout'),
        children: [
          { index: true, lazy: () => import('../features/tasks/TasksPage') },
          { path: 'tasks/:id', lazy: () => import('../features/tasks/TaskDetailPage') },
          { path: 'search', lazy: () => import('../features/search/SearchPage') },
          {
            path: 'settings',
            lazy: () => import('../features/settings/SettingsLayout'),
            children: [
              { index: true, lazy: () => import('../features/settings/SettingsIndex') },
              { path: 'sessions', lazy: () => import('../features/settings/SessionsPage') },
              { path: 'api-keys', lazy: () => import('../features/settings/ApiKeysPage') },
              { path: 'accounts', lazy: () => import('../features/settings/AccountsPage') },
            ],
          },
          { path: '*', lazy: () => import('../components/NotFoundPage') },
        ],
      },
    ],
  },
]);
