import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '../../lib/api/client';
import type { components } from '../../lib/api/schema';

export type ApiKeyCreate = components['schemas']['ApiKeyCreate'];
export type ApiKeyCreated = components['schemas']['ApiKeyCreated'];
export type LinkedIdentity = components['schemas']['IdentityOut'];
export type PasswordChange = components['schemas']['PasswordChange'];

export const settingsKeys = {
  sessions: ['settings', 'sessions'] as const,
  apiKeys: ['settings', 'api-keys'] as const,
  identities: ['settings', 'identities'] as const,
};

export function useSessions() {
  return useQuery({
    queryKey: settingsKeys.sessions,
    queryFn: ({ signal }) => unwrap(api.GET('/api/v1/auth/sessions', { signal })),
  });
}

export function useRevokeSession() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: string) =>
      unwrap(
        api.DELETE('/api/v1/auth/sessions/{session_id}', { params: { path: { session_id: id } } }),
      ),
    onSettled: () => client.invalidateQueries({ queryKey: settingsKeys.sessions }),
  });
}

export function useApiKeys() {
  return useQuery({
    queryKey: settingsKeys.apiKeys,
    queryFn: ({ signal }) => unwrap(api.GET('/api/v1/auth/api-keys', { signal })),
  });
}

export function useCreateApiKey() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: ApiKeyCreate) => unwrap(api.POST('/api/v1/auth/api-keys', { body })),
    onSettled: () => client.invalidateQueries({ queryKey: settingsKeys.apiKeys }),
  });
}

export function useRevokeApiKey() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: string) =>
      unwrap(api.DELETE('/api/v1/auth/api-keys/{key_id}', { params: { path: { key_id: id } } })),
    onSettled: () => client.invalidateQueries({ queryKey: settingsKeys.apiKeys }),
  });
}

export function useIdentities() {
  return useQuery({
    queryKey: settingsKeys.identities,
    queryFn: ({ signal }) => unwrap(api.GET('/api/v1/auth/identities', { signal })),
  });
}

export function useUnlinkIdentity() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: string) =>
      unwrap(
        api.DELETE('/api/v1/auth/identities/{identity_id}', {
          params: { path: { identity_id: id } },
        }),
      ),
    onSettled: () => client.invalidateQueries({ queryKey: settingsKeys.identities }),
  });
}

/**
 * Link a provider to this account: auth answers with the provider's authorization URL, and the
 * browser goes there (a top-level navigation); the callback brings it back to `returnTo`.
 */
export function useLinkProvider() {
  return useMutation({
    mutationFn: ({ provider, returnTo }: { provider: string; returnTo: string }) =>
      unwrap(
        api.POST('/api/v1/auth/oidc/{provider}/link', {
          params: { path: { provider } },
          body: { return_to: returnTo },
        }),
      ),
    onSuccess: ({ authorization_url }) => window.location.assign(authorization_url),
  });
}

/** Set a first password or change it; auth ends every other session of the account. */
export function useSetPassword() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: PasswordChange) => unwrap(api.POST('/api/v1/auth/password', { body })),
    onSuccess: () => client.invalidateQueries({ queryKey: settingsKeys.sessions }),
  });
}
