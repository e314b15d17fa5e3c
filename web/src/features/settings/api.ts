import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '../../lib/api/client';
import type { components } from '../../lib/api/schema';

export type ApiKeyCreate = components['schemas']['ApiKeyCreate'];
export type ApiKeyCreated = components['schemas']['ApiKeyCreated'];

export const settingsKeys = {
  sessions: ['settings', 'sessions'] as const,
  apiKeys: ['settings', 'api-keys'] as const,
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
