import {
  useInfiniteQuery,
  useMutation,
  useQuery,
  useQueryClient,
  type QueryClient,
  type QueryKey,
} from '@tanstack/react-query';
import { api, unwrap } from '../../lib/api/client';
import { NetworkError } from '../../lib/api/errors';
import { outbox, type OutboxWrite } from '../sync/outbox';
import { currentUserId, writesAreOffline } from '../sync/user';
import {
  applyAnswer,
  applyDeleted,
  applyTask,
  dropOptimistic,
  scheduleStatsRefresh,
} from './cache';
import { taskKeys, type ListData, type TaskWithEtag } from './keys';
import {
  deleteTask,
  draftBody,
  etagAtVersion,
  fetchTask,
  newIdempotencyKey,
  patchTask,
  postTask,
  withRetries,
} from './requests';
import type { Task, TaskDraft, TaskFilters, TaskList, TaskStats } from './types';

export { taskKeys, fetchTask, type TaskWithEtag };

export const PAGE_SIZE = 100;

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

/** What a write came to: the server's answer, or a place in the offline queue. */
export type WriteResult<T> = { queued: false; value: T } | { queued: true };

/**
 * Sends a write (retried with the same Idempotency-Key while the network flickers), or queues
 * it when there is no network, or when the network went away during the send.
 */
async function sendOrQueue<T>(
  write: OutboxWrite,
  send: (key: string) => Promise<T>,
  beforeQueue: () => void = () => undefined,
) {
  const key = newIdempotencyKey();
  const queue = async (): Promise<WriteResult<T>> => {
    const user = currentUserId();
    if (!user) throw new Error('You are offline and not signed in: this change cannot be kept.');
    // The queue shows the write from now on: its optimistic row goes first, never both.
    beforeQueue();
    await outbox.enqueue(user, write, key);
    return { queued: true };
  };
  if (writesAreOffline()) return queue();
  try {
    return { queued: false, value: await withRetries(() => send(key)) } as WriteResult<T>;
  } catch (error) {
    if (error instanceof NetworkError) return queue();
    throw error;
  }
}

// Mutations run whatever the browser thinks of the network: offline, they queue.
const ALWAYS = 'always' as const;

// The optimistic row of each create in flight, by its draft (onMutate runs before mutationFn).
const optimisticRows = new WeakMap<TaskDraft, string>();

export function useCreateTask() {
  const client = useQueryClient();
  return useMutation({
    networkMode: ALWAYS,
    mutationFn: (draft: TaskDraft) =>
      sendOrQueue(
        { kind: 'create', draft },
        (key) => postTask(draft, key),
        () => {
          const optimisticId = optimisticRows.get(draft);
          if (optimisticId) dropOptimistic(client, optimisticId);
        },
      ),
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
      optimisticRows.set(draft, optimistic.id);
      return { snapshot, optimisticId: optimistic.id };
    },
    onSuccess: (result, _draft, context) => {
      // Queued: the list shows it from the queue from now on.
      dropOptimistic(client, context.optimisticId);
      if (!result.queued) {
        applyTask(client, result.value.task);
        scheduleStatsRefresh(client, 0);
      }
    },
    onError: (_error, _draft, context) => restore(client, context?.snapshot),
  });
}

export interface TaskUpdate {
  id: string;
  draft: TaskDraft;
  /** The ETag the edit started from; null with a null `baseVersion` overwrites. */
  etag: string | null;
  /** The version the edit started from (checked when there is no ETag). */
  baseVersion: number | null;
}

async function sendUpdate({ id, draft, etag, baseVersion }: TaskUpdate, key: string) {
  const ifMatch = etag ?? (baseVersion === null ? null : await etagAtVersion(id, baseVersion));
  return patchTask(id, draft, ifMatch, key);
}

export function useUpdateTask() {
  const client = useQueryClient();
  return useMutation({
    networkMode: ALWAYS,
    mutationFn: (update: TaskUpdate) =>
      sendOrQueue(
        {
          kind: 'update',
          taskId: update.id,
          draft: update.draft,
          ifMatch: update.etag,
          baseVersion: update.baseVersion,
        },
        (key) => sendUpdate(update, key),
      ),
    onMutate: async ({ id, draft }) => {
      const snapshot = await snapshotLists(client);
      editLists(client, (items) =>
        items.map((task) => (task.id === id ? { ...task, ...draftBody(draft) } : task)),
      );
      return { snapshot };
    },
    onSuccess: (result, _update, context) => {
      if (result.queued) {
        restore(client, context.snapshot); // the queue shows the edit as pending
        return;
      }
      applyAnswer(client, result.value);
      scheduleStatsRefresh(client, 0);
    },
    onError: (_error, _update, context) => restore(client, context?.snapshot),
  });
}

export function useDeleteTask() {
  const client = useQueryClient();
  return useMutation({
    networkMode: ALWAYS,
    mutationFn: (task: Pick<Task, 'id' | 'title'>) =>
      sendOrQueue({ kind: 'delete', taskId: task.id, title: task.title }, (key) =>
        deleteTask(task.id, key),
      ),
    onMutate: async ({ id }) => {
      const snapshot = await snapshotLists(client);
      editLists(client, (items) => items.filter((task) => task.id !== id));
      return { snapshot };
    },
    onSuccess: (result, { id }, context) => {
      if (result.queued) {
        restore(client, context.snapshot);
        return;
      }
      applyDeleted(client, id, Number.MAX_SAFE_INTEGER);
      scheduleStatsRefresh(client, 0);
    },
    onError: (_error, _task, context) => restore(client, context?.snapshot),
  });
}
