/**
 * A task at a known version, applied to React Query's cache without refetching the lists:
 * the live event stream and the answers to our own writes both come through here.
 *
 * Each cached list keeps its filters and sort (they are its query key), so a task is put
 * where that list would have it: removed when it no longer matches, moved when its sort key
 * changed, and left out when it sorts after the last loaded row of a list that has more pages
 * (it arrives with them). Nothing older than what the cache holds is applied (`version`).
 */
import type { QueryClient } from '@tanstack/react-query';
import { taskKeys, type ListData, type TaskWithEtag } from './keys';
import type { Task, TaskFilters, TaskPriority, TaskSort } from './types';

const PRIORITY_RANK: Record<TaskPriority, number> = { low: 0, medium: 1, high: 2 };
const NO_DUE_DATE = Date.parse('9999-12-31T23:59:59.999Z');
const STATS_DEBOUNCE_MS = 1_000;
const TOMBSTONES_KEPT = 500;

export function matchesFilters(task: Task, filters: TaskFilters): boolean {
  if (filters.status && task.status !== filters.status) return false;
  if (filters.priority && task.priority !== filters.priority) return false;
  if (filters.tag && !task.tags.includes(filters.tag)) return false;
  if (filters.due_before) {
    if (!task.due_date || !(Date.parse(task.due_date) < Date.parse(filters.due_before))) {
      return false;
    }
  }
  return true;
}

function sortValue(task: Task, key: string): number {
  switch (key) {
    case 'updated_at':
      return Date.parse(task.updated_at);
    case 'due_date':
      return task.due_date ? Date.parse(task.due_date) : NO_DUE_DATE;
    case 'priority':
      return PRIORITY_RANK[task.priority];
    default:
      return Date.parse(task.created_at);
  }
}

/** The server's order for `sort`: the sort key, then the task id, both in its direction. */
export function compareTasks(a: Task, b: Task, sort: TaskSort = '-created_at'): number {
  const direction = sort.startsWith('-') ? -1 : 1;
  const key = sort.replace(/^[-+]/, '');
  const byKey = sortValue(a, key) - sortValue(b, key);
  if (byKey !== 0) return direction * byKey;
  return direction * (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function findTask(data: ListData, id: string): Task | undefined {
  for (const page of data.pages) {
    const found = page.items.find((task) => task.id === id);
    if (found) return found;
  }
  return undefined;
}

function without(data: ListData, id: string): ListData {
  return {
    ...data,
    pages: data.pages.map((page) =>
      page.items.some((task) => task.id === id)
        ? { ...page, items: page.items.filter((task) => task.id !== id) }
        : page,
    ),
  };
}

function inserted(data: ListData, task: Task, sort: TaskSort | undefined): ListData {
  const pages = data.pages;
  for (let p = 0; p < pages.length; p += 1) {
    const page = pages[p];
    if (!page) continue;
    const at = page.items.findIndex((other) => compareTasks(task, other, sort) < 0);
    if (at !== -1) {
      const items = [...page.items.slice(0, at), task, ...page.items.slice(at)];
      return { ...data, pages: pages.map((old, i) => (i === p ? { ...page, items } : old)) };
    }
  }
  const last = pages.at(-1);
  if (!last || last.next_cursor) return data; // sorts after what is loaded: comes with paging
  const items = [...last.items, task];
  return {
    ...data,
    pages: pages.map((old, i) => (i === pages.length - 1 ? { ...old, items } : old)),
  };
}

/** `data` with `task` put where this list (filters, sort) has it; the same object if no change. */
export function upsertIntoList(data: ListData, task: Task, filters: TaskFilters): ListData {
  const existing = findTask(data, task.id);
  if (existing && existing.version >= task.version) return data;
  const rest = existing ? without(data, task.id) : data;
  return matchesFilters(task, filters) ? inserted(rest, task, filters.sort) : rest;
}

/** `data` without the task if what it holds is older than `version`. */
export function removeFromList(data: ListData, id: string, version: number): ListData {
  const existing = findTask(data, id);
  return existing && existing.version < version ? without(data, id) : data;
}

/** Deleted tasks, so a late answer or replayed event does not bring one back. */
const tombstones = new Map<string, number>();

function rememberDeleted(id: string, version: number) {
  tombstones.set(id, version);
  if (tombstones.size > TOMBSTONES_KEPT) {
    const oldest = tombstones.keys().next().value;
    if (oldest !== undefined) tombstones.delete(oldest);
  }
}

function eachList(client: QueryClient, edit: (data: ListData, filters: TaskFilters) => ListData) {
  for (const query of client.getQueryCache().findAll({ queryKey: taskKeys.lists() })) {
    const data = query.state.data as ListData | undefined;
    if (!data) continue;
    const filters = (query.queryKey[2] ?? {}) as TaskFilters;
    const next = edit(data, filters);
    if (next !== data) client.setQueryData(query.queryKey, next);
  }
}

/** A detail view older than `version` is refetched (for its ETag) only if someone shows it. */
function refreshDetail(client: QueryClient, id: string, version: number) {
  const detail = client.getQueryData<TaskWithEtag>(taskKeys.detail(id));
  if (detail && detail.task.version < version) {
    void client.invalidateQueries({ queryKey: taskKeys.detail(id), exact: true });
  }
}

export function applyTask(client: QueryClient, task: Task) {
  const deletedAt = tombstones.get(task.id);
  if (deletedAt !== undefined && deletedAt >= task.version) return;
  eachList(client, (data, filters) => upsertIntoList(data, task, filters));
  refreshDetail(client, task.id, task.version);
}

/** A task as the server just answered a request for it: its detail (with the ETag the next
 * write sends) and every cached list. */
export function applyAnswer(client: QueryClient, answer: TaskWithEtag) {
  client.setQueryData(taskKeys.detail(answer.task.id), answer);
  applyTask(client, answer.task);
}

export function applyDeleted(client: QueryClient, id: string, version: number) {
  rememberDeleted(id, version);
  eachList(client, (data) => removeFromList(data, id, version));
  refreshDetail(client, id, version);
}

/** Drops an optimistic row (an id starting with `pending-`) from every list. */
export function dropOptimistic(client: QueryClient, pendingId: string) {
  eachList(client, (data) => (findTask(data, pendingId) ? without(data, pendingId) : data));
}

const statsTimers = new WeakMap<QueryClient, number>();

/** The summary is refetched once after a burst of changes, not once per change. */
export function scheduleStatsRefresh(client: QueryClient, delayMs = STATS_DEBOUNCE_MS) {
  const pending = statsTimers.get(client);
  if (pending !== undefined) window.clearTimeout(pending);
  statsTimers.set(
    client,
    window.setTimeout(() => {
      statsTimers.delete(client);
      void client.invalidateQueries({ queryKey: taskKeys.stats() });
    }, delayMs),
  );
}

/** For tests. */
export function forgetTombstones() {
  tombstones.clear();
}
