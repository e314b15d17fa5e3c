import { QueryClient, QueryClientProvider, type InfiniteData } from '@tanstack/react-query';
import { act, renderHook, waitFor } from '@testing-library/react';
import type { ReactNode } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { resetSessionForTests, session } from '../../lib/api/session';
import { taskKeys, useCreateTask, useDeleteTask } from './api';
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

afterEach(() => {
  vi.unstubAllGlobals();
  resetSessionForTests();
});

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
