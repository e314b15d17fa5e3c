import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { cleanup, render, screen } from '@testing-library/react';
import { createMemoryRouter, RouterProvider, useLocation } from 'react-router';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { resetSessionForTests, session } from '../../lib/api/session';
import { authorizeUrl } from './api';
import { oidcErrorMessage } from './oidcErrors';
import { Component as SignInPage } from './SignInPage';

function Where() {
  const location = useLocation();
  return <p>at {location.pathname + location.search}</p>;
}

function renderAt(entry: string, state?: unknown) {
  vi.stubGlobal(
    'fetch',
    vi.fn(
      async () =>
        new Response(JSON.stringify({ items: [{ id: 'google', name: 'Google' }] }), {
          headers: { 'Content-Type': 'application/json' },
        }),
    ),
  );
  const router = createMemoryRouter(
    [
      { path: '/signin', Component: SignInPage },
      { path: '*', Component: Where },
    ],
    {
      initialEntries: [{ pathname: entry.split('?')[0], search: entry.split('?')[1] ?? '', state }],
    },
  );
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={client}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  );
}

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  resetSessionForTests();
});

describe('sign-in page and social sign-in', () => {
  it('offers one "Continue with" button per provider auth lists', async () => {
    session.signedOut({ broadcast: false });
    renderAt('/signin');
    expect(await screen.findByRole('button', { name: 'Continue with Google' })).toBeTruthy();
  });

  it('says in plain words why a provider sign-in failed', async () => {
    session.signedOut({ broadcast: false });
    renderAt('/signin?error=account_exists');
    expect((await screen.findByRole('alert')).textContent).toBe(oidcErrorMessage('account_exists'));
    expect(oidcErrorMessage('account_exists')).toMatch(/already exists/);
  });

  it('sends a failed link (already signed in) to the linked accounts page', async () => {
    session.signedIn('token');
    renderAt('/signin?error=identity_in_use');
    expect((await screen.findByText(/^at /)).textContent).toBe(
      'at /settings/accounts?error=identity_in_use',
    );
  });

  it('sends a signed-in visitor where they were going', async () => {
    session.signedIn('token');
    renderAt('/signin', { from: '/settings/sessions' });
    expect((await screen.findByText(/^at /)).textContent).toBe('at /settings/sessions');
  });
});

describe('oidc helpers', () => {
  it('builds the authorize URL with an encoded return_to', () => {
    expect(authorizeUrl('google', '/tasks/1?x=a b')).toBe(
      '/api/v1/auth/oidc/google/authorize?return_to=%2Ftasks%2F1%3Fx%3Da+b',
    );
  });

  it('falls back for unknown codes, prototype names included', () => {
    const fallback = oidcErrorMessage('no_such_code');
    expect(fallback).toMatch(/did not work/);
    expect(oidcErrorMessage('constructor')).toBe(fallback);
    expect(oidcErrorMessage('invalid_state')).toMatch(/expired/);
  });
});
