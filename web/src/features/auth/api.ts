import { useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../../lib/api/client';
import { ApiError } from '../../lib/api/errors';
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

export interface Provider {
  id: string;
  name: string;
}

/**
 * Social sign-in providers. The route is newer than the generated types (OIDC lands in auth
 * separately), so the answer is checked at run time; a 404 means none are configured.
 */
export function useOidcProviders() {
  return useQuery({
    queryKey: authKeys.providers,
    queryFn: async ({ signal }): Promise<Provider[]> => {
      const response = await fetch('/api/v1/auth/oidc/providers', { signal });
      if (!response.ok) return [];
      const body: unknown = await response.json();
      const items = (body as { items?: unknown }).items;
      return Array.isArray(items) ? items.filter(isProvider) : [];
    },
    staleTime: 10 * 60_000,
    retry: (count, error) => !(error instanceof ApiError) && count < 1,
  });
}

function isProvider(value: unknown): value is Provider {
  const item = value as Partial<Provider> | null;
  return typeof item?.id === 'string' && typeof item.name === 'string';
}
