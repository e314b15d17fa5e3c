/**
 * Task writes as HTTP requests, each with an Idempotency-Key: the same key is sent again on
 * every retry of the same write, so a retry after a lost answer cannot write twice.
 */
import { api } from '../../lib/api/client';
import { rememberConsistency } from '../../lib/api/consistency';
import { ApiError, NetworkError, errorFromResponse } from '../../lib/api/errors';
import type { TaskWithEtag } from './keys';
import type { TaskDraft } from './types';

export function draftBody(draft: TaskDraft) {
  return {
    title: draft.title,
    description: draft.description,
    status: draft.status,
    priority: draft.priority,
    tags: draft.tags,
    due_date: draft.due_date,
  };
}

export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}

const RETRY_DELAYS_MS = [300, 1_000];

/** Worth sending again with the same key: no answer, or the first is still running (409). */
export function isTransient(error: unknown): boolean {
  return error instanceof NetworkError || (error instanceof ApiError && error.status === 409);
}

/** `send` again (it must reuse its Idempotency-Key) while the failure is transient. */
export async function withRetries<T>(
  send: () => Promise<T>,
  delays: readonly number[] = RETRY_DELAYS_MS,
): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await send();
    } catch (error) {
      const delay = delays[attempt];
      if (delay === undefined || !isTransient(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

export async function postTask(draft: TaskDraft, key: string): Promise<TaskWithEtag> {
  const { data, error, response } = await api.POST('/api/v1/tasks', {
    body: draftBody(draft),
    headers: { 'Idempotency-Key': key },
  });
  if (!response.ok || !data) throw await errorFromResponse(response, error);
  rememberConsistency(response);
  return { task: data, etag: response.headers.get('ETag') };
}

export async function patchTask(
  id: string,
  draft: TaskDraft,
  ifMatch: string | null,
  key: string,
): Promise<TaskWithEtag> {
  const { data, error, response } = await api.PATCH('/api/v1/tasks/{task_id}', {
    params: { path: { task_id: id } },
    body: draftBody(draft),
    headers: {
      'Content-Type': 'application/merge-patch+json',
      'Idempotency-Key': key,
      ...(ifMatch ? { 'If-Match': ifMatch } : {}),
    },
  });
  if (!response.ok || !data) throw await errorFromResponse(response, error);
  rememberConsistency(response);
  return { task: data, etag: response.headers.get('ETag') };
}

export async function deleteTask(id: string, key: string): Promise<void> {
  const { error, response } = await api.DELETE('/api/v1/tasks/{task_id}', {
    params: { path: { task_id: id } },
    headers: { 'Idempotency-Key': key },
  });
  if (!response.ok) throw await errorFromResponse(response, error);
  rememberConsistency(response);
}

export async function fetchTask(id: string, signal?: AbortSignal): Promise<TaskWithEtag> {
  const { data, error, response } = await api.GET('/api/v1/tasks/{task_id}', {
    params: { path: { task_id: id } },
    signal,
  });
  if (!response.ok || !data) throw await errorFromResponse(response, error);
  return { task: data, etag: response.headers.get('ETag') };
}

export const CHANGED = 'The task has changed since this edit started.';

/**
 * The ETag to send with an edit that started at `baseVersion` without one (made offline):
 * the task as it is now, if it is still at that version; a 412 otherwise, as the server
 * would answer a stale ETag.
 */
export async function etagAtVersion(id: string, baseVersion: number): Promise<string | null> {
  const now = await fetchTask(id);
  if (now.task.version !== baseVersion) {
    throw new ApiError(412, { status: 412, title: 'Precondition Failed', detail: CHANGED }, null);
  }
  return now.etag;
}
