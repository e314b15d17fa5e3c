import { QueryClient, QueryClientProvider, type InfiniteData } from '@tanstack/react-query';
import { act, renderHook, waitFor } from '@testing-library/react';
import type { ReactNode } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { resetSessionForTests, session } from '../../lib/api/session';
import { outbox } from '../sync/outbox';
import { taskKeys, useCreateTask, useDeleteTask, useUpdateTask } from './api';
import { EMPTY_DRAFT } from './TaskForm';
import type { Task, TaskList } from './types';

const TASK: Task = {
  id: 't1',
  title: 'Existing',
  description: '',
  status: 'todo',
  priority: 'low',
  tags: [],
  due_date: null,
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
  version: 1,
};

function setup() {
  const client = new QueryClient({
    defaultOptions: { queries: { retry: false, staleTime: Infinity } },
  });
  const key = taskKeys.list({});
  client.setQueryData<InfiniteData<TaskList, string | null>>(key, {
    pages: [{ items: [TASK], next_cursor: null }],
    pageParams: [null],
  });
  const wrapper = ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={client}>{children}</QueryClientProvider>
  );
  const titles = () =>
    client
      .getQueryData<InfiniteData<TaskList, string | null>>(key)
      ?.pages.flatMap((p) => p.items.map((t) => t.title));
  return { client, wrapper, titles };
}

/** The server answers only when the test says so, then with a problem. */
function failingServer() {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  vi.stubGlobal(
    'fetch',
    vi.fn(async () => {
      await gate;
      return new Response(JSON.stringify({ title: 'Boom', status: 503, detail: 'Down' }), {
        status: 503,
        headers: { 'Content-Type': 'application/problem+json' },
      });
    }),
  );
  return { release };
}

afterEach(async () => {
  vi.unstubAllGlobals();
  resetSessionForTests();
  await outbox.clear();
});

const jwt = (sub: string) => `h.${btoa(JSON.stringify({ sub }))}.s`;

describe('optimistic task mutations', () => {
  it('shows a new task at once and rolls it back when the server fails', async () => {
    session.signedIn('token');
    const server = failingServer();
    const { wrapper, titles } = setup();
    const { result } = renderHook(() => useCreateTask(), { wrapper });
    act(() => result.current.mutate({ ...EMPTY_DRAFT, title: 'Optimistic' }));
    await waitFor(() => expect(titles()).toEqual(['Optimistic', 'Existing']));
    server.release();
    await waitFor(() => expect(result.current.isError).toBe(true));
    expect(titles()).toEqual(['Existing']);
    expect(result.current.error?.message).toBe('Down');
  });

  it('hides a deleted task at once and brings it back when the server fails', async () => {
    session.signedIn('token');
    const server = failingServer();
    const { wrapper, titles } = setup();
    const { result } = renderHook(() => useDeleteTask(), { wrapper });
    act(() => result.current.mutate(TASK));
    await waitFor(() => expect(titles()).toEqual([]));
    server.release();
    await waitFor(() => expect(result.current.isError).toBe(true));
    expect(titles()).toEqual(['Existing']);
  });
});

describe('idempotent writes and the offline queue', () => {
  it('sends the same Idempotency-Key again when the answer was lost, then the task', async () => {
    session.signedIn(jwt('u1'));
    const keys: (string | null)[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (request: Request) => {
        keys.push(request.headers.get('Idempotency-Key'));
        if (keys.length === 1) throw new TypeError('Failed to fetch');
        return new Response(JSON.stringify({ ...TASK, id: 't2', title: 'Sent', version: 1 }), {
          status: 201,
          headers: { 'Content-Type': 'application/json', 'Idempotent-Replayed': 'true' },
        });
      }),
    );
    const { wrapper, titles } = setup();
    const { result } = renderHook(() => useCreateTask(), { wrapper });
    act(() => result.current.mutate({ ...EMPTY_DRAFT, title: 'Sent' }));
    await waitFor(() => expect(result.current.isSuccess).toBe(true));
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]);
    expect(titles()).toContain('Sent');
    expect(outbox.getEntries()).toEqual([]);
  });

  it('queues writes made offline, with their key, and sends nothing', async () => {
    session.signedIn(jwt('u1'));
    vi.spyOn(navigator, 'onLine', 'get').mockReturnValue(false);
    const fetcher = vi.fn();
    vi.stubGlobal('fetch', fetcher);
    const { wrapper, titles } = setup();
    const create = renderHook(() => useCreateTask(), { wrapper });
    const update = renderHook(() => useUpdateTask(), { wrapper });
    act(() => create.result.current.mutate({ ...EMPTY_DRAFT, title: 'Offline' }));
    await waitFor(() => expect(create.result.current.isSuccess).toBe(true));
    act(() =>
      update.result.current.mutate({
        id: 't1',
        draft: { ...EMPTY_DRAFT, title: 'Edited' },
        etag: null,
        baseVersion: 1,
      }),
    );
    await waitFor(() => expect(update.result.current.isSuccess).toBe(true));
    expect(fetcher).not.toHaveBeenCalled();
    const entries = outbox.getEntries();
    expect(entries.map((e) => [e.userId, e.write.kind])).toEqual([
      ['u1', 'create'],
      ['u1', 'update'],
    ]);
    expect(new Set(entries.map((e) => e.key)).size).toBe(2);
    // The cache holds only what the server said; the list overlays the queue (pending).
    expect(titles()).toEqual(['Existing']);
  });
});
