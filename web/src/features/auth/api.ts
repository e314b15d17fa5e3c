import { useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../../lib/api/client';
import { ApiError } from '../../lib/api/errors';
import type { components } from '../../lib/api/schema';
import { session } from '../../lib/api/session';

export const authKeys = {
  me: ['auth', 'me'] as const,
  providers: ['auth', 'oidc-providers'] as const,
};

export async function signIn(email: string, password: string): Promise<void> {
  const body = await unwrap(api.POST('/api/v1/auth/login', { body: { email, password } }));
  session.signedIn(body.access_token);
}

export async function register(name: string, email: string, password: string): Promise<void> {
  await unwrap(
    api.POST('/api/v1/auth/register', { body: { email, password, name: name || undefined } }),
  );
  await signIn(email, password);
}

/** Ends the session on the server when it can; every tab is signed out either way. */
export async function signOut({ everywhere = false } = {}): Promise<void> {
  try {
    const path = everywhere ? '/api/v1/auth/logout-all' : '/api/v1/auth/logout';
    await unwrap(api.POST(path, {}));
  } finally {
    session.signedOut({ broadcast: true });
  }
}

export function useMe() {
  return useQuery({
    queryKey: authKeys.me,
    queryFn: ({ signal }) => unwrap(api.GET('/api/v1/auth/me', { signal })),
    staleTime: 5 * 60_000,
  });
}

export type Provider = components['schemas']['ProviderOut'];

/** Social sign-in providers ("Continue with …"); none when auth has none configured. */
export function useOidcProviders() {
  return useQuery({
    queryKey: authKeys.providers,
    queryFn: async ({ signal }): Promise<Provider[]> =>
      (await unwrap(api.GET('/api/v1/auth/oidc/providers', { signal }))).items,
    staleTime: 10 * 60_000,
    retry: (count, error) => !(error instanceof ApiError) && count < 1,
  });
}

/**
 * Sign in with a provider: a top-level navigation to auth's authorize step, which redirects to
 * the provider and, after its callback, to `returnTo` with the session cookies set.
 */
export function continueWithProvider(providerId: string, returnTo: string): void {
  window.location.assign(authorizeUrl(providerId, returnTo));
}

export function authorizeUrl(providerId: string, returnTo: string): string {
  const query = new URLSearchParams({ return_to: returnTo });
  return `/api/v1/auth/oidc/${encodeURIComponent(providerId)}/authorize?${query.toString()}`;
}
