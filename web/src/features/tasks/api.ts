import {
  useInfiniteQuery,
  useMutation,
  useQuery,
  useQueryClient,
  type InfiniteData,
  type QueryClient,
  type QueryKey,
} from '@tanstack/react-query';
import { api, unwrap } from '../../lib/api/client';
import { rememberConsistency } from '../../lib/api/consistency';
import { errorFromResponse } from '../../lib/api/errors';
import type { Task, TaskDraft, TaskFilters, TaskList, TaskStats } from './types';

export const PAGE_SIZE = 100;

export const taskKeys = {
  all: ['tasks'] as const,
  lists: () => [...taskKeys.all, 'list'] as const,
  list: (filters: TaskFilters) => [...taskKeys.lists(), filters] as const,
  detail: (id: string) => [...taskKeys.all, 'detail', id] as const,
  stats: () => [...taskKeys.all, 'stats'] as const,
};

type ListData = InfiniteData<TaskList, string | null>;

export function useTaskList(filters: TaskFilters) {
  return useInfiniteQuery({
    queryKey: taskKeys.list(filters),
    queryFn: async ({ pageParam, signal }): Promise<TaskList> => {
      const query = { ...filters, limit: PAGE_SIZE, ...(pageParam ? { cursor: pageParam } : {}) };
      const page = await unwrap(api.GET('/api/v1/tasks', { params: { query }, signal }));
      // Without `page=` the API answers the keyset shape.
      return 'next_cursor' in page ? page : { items: page.items, next_cursor: null };
    },
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor,
  });
}

export function useTaskStats() {
  return useQuery({
    queryKey: taskKeys.stats(),
    queryFn: ({ signal }): Promise<TaskStats> => unwrap(api.GET('/api/v1/tasks/stats', { signal })),
  });
}

export interface TaskWithEtag {
  task: Task;
  etag: string | null;
}

export async function fetchTask(id: string, signal?: AbortSignal): Promise<TaskWithEtag> {
  const { data, error, response } = await api.GET('/api/v1/tasks/{task_id}', {
    params: { path: { task_id: id } },
    signal,
  });
  if (!response.ok || !data) throw await errorFromResponse(response, error);
  return { task: data, etag: response.headers.get('ETag') };
}

export function useTask(id: string) {
  return useQuery({
    queryKey: taskKeys.detail(id),
    queryFn: ({ signal }) => fetchTask(id, signal),
  });
}

/** Every cached list, to change optimistically and put back on failure. */
type Snapshot = [QueryKey, ListData | undefined][];

async function snapshotLists(client: QueryClient): Promise<Snapshot> {
  await client.cancelQueries({ queryKey: taskKeys.lists() });
  return client.getQueriesData<ListData>({ queryKey: taskKeys.lists() });
}

function restore(client: QueryClient, snapshot: Snapshot | undefined) {
  snapshot?.forEach(([key, data]) => client.setQueryData(key, data));
}

function editLists(client: QueryClient, edit: (items: Task[], pageIndex: number) => Task[]) {
  client.setQueriesData<ListData>({ queryKey: taskKeys.lists() }, (data) =>
    data
      ? { ...data, pages: data.pages.map((page, i) => ({ ...page, items: edit(page.items, i) })) }
      : data,
  );
}

function settle(client: QueryClient) {
  return Promise.all([
    client.invalidateQueries({ queryKey: taskKeys.lists() }),
    client.invalidateQueries({ queryKey: taskKeys.stats() }),
  ]);
}

function draftBody(draft: TaskDraft) {
  return {
    title: draft.title,
    description: draft.description,
    status: draft.status,
    priority: draft.priority,
    tags: draft.tags,
    due_date: draft.due_date,
  };
}

export function useCreateTask() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (draft: TaskDraft) => {
      const { data, error, response } = await api.POST('/api/v1/tasks', {
        body: draftBody(draft),
      });
      if (!response.ok || !data) throw await errorFromResponse(response, error);
      rememberConsistency(response);
      return data;
    },
    onMutate: async (draft) => {
      const snapshot = await snapshotLists(client);
      const now = new Date().toISOString();
      const optimistic: Task = {
        ...draftBody(draft),
        id: `pending-${crypto.randomUUID()}`,
        created_at: now,
        updated_at: now,
        version: 0,
      };
      editLists(client, (items, page) => (page === 0 ? [optimistic, ...items] : items));
      return { snapshot };
    },
    onError: (_error, _draft, context) => restore(client, context?.snapshot),
    onSettled: () => settle(client),
  });
}

export interface TaskUpdate {
  id: string;
  draft: TaskDraft;
  /** The ETag the edit started from; null overwrites whatever is there now. */
  etag: string | null;
}

export function useUpdateTask() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async ({ id, draft, etag }: TaskUpdate) => {
      const { data, error, response } = await api.PATCH('/api/v1/tasks/{task_id}', {
        params: { path: { task_id: id } },
        body: draftBody(draft),
        headers: {
          'Content-Type': 'application/merge-patch+json',
          ...(etag ? { 'If-Match': etag } : {}),
        },
      });
      if (!response.ok || !data) throw await errorFromResponse(response, error);
      rememberConsistency(response);
      return data;
    },
    onMutate: async ({ id, draft }) => {
      const snapshot = await snapshotLists(client);
      editLists(client, (items) =>
        items.map((task) => (task.id === id ? { ...task, ...draftBody(draft) } : task)),
      );
      return { snapshot };
    },
    onError: (_error, _update, context) => restore(client, context?.snapshot),
    onSettled: (_data, _error, { id }) =>
      Promise.all([settle(client), client.invalidateQueries({ queryKey: taskKeys.detail(id) })]),
  });
}

export function useDeleteTask() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (id: string) => {
      const { error, response } = await api.DELETE('/api/v1/tasks/{task_id}', {
        params: { path: { task_id: id } },
      });
      if (!response.ok) throw await errorFromResponse(response, error);
      rememberConsistency(response);
    },
    onMutate: async (id) => {
      const snapshot = await snapshotLists(client);
      editLists(client, (items) => items.filter((task) => task.id !== id));
      return { snapshot };
    },
    onError: (_error, _id, context) => restore(client, context?.snapshot),
    onSettled: () => settle(client),
  });
}
