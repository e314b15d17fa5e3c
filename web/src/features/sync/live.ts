/**
 * The live event stream applied to React Query's cache: each task event updates the cached
 * lists and detail in place (no list refetch); the summary is refetched once per burst; a
 * `reset` (the server no longer holds our resume point) refetches the task queries.
 */
import type { QueryClient } from '@tanstack/react-query';
import { useQueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import { applyDeleted, applyTask, scheduleStatsRefresh } from '../tasks/cache';
import { taskKeys } from '../tasks/keys';
import type { Task } from '../tasks/types';
import { openLiveStream, type SseMessage } from './sse';

export const TASK_EVENT = {
  created: 'taskstream.task.created',
  updated: 'taskstream.task.updated',
  deleted: 'taskstream.task.deleted',
} as const;

function isTask(value: unknown): value is Task {
  const task = value as Partial<Task> | null;
  return typeof task?.id === 'string' && typeof task.version === 'number';
}

export type Applied = 'task' | 'deleted' | 'reset' | 'ignored';

export function applyLiveMessage(client: QueryClient, message: SseMessage): Applied {
  if (message.event === 'reset') {
    void client.invalidateQueries({ queryKey: taskKeys.all });
    return 'reset';
  }
  if (!Object.values<string>(TASK_EVENT).includes(message.event)) return 'ignored';
  let task: unknown;
  try {
    task = JSON.parse(message.data);
  } catch {
    return 'ignored';
  }
  if (!isTask(task)) return 'ignored';
  if (message.event === TASK_EVENT.deleted) applyDeleted(client, task.id, task.version);
  else applyTask(client, task);
  scheduleStatsRefresh(client);
  return message.event === TASK_EVENT.deleted ? 'deleted' : 'task';
}

/** While mounted (signed-in pages), this tab follows the user's task events. */
export function useLiveEvents(enabled: boolean) {
  const client = useQueryClient();
  useEffect(() => {
    if (!enabled) return;
    return openLiveStream({
      onMessage: (message) => applyLiveMessage(client, message),
      onOpen: ({ resumed, reconnect }) => {
        // Reconnected without a resume point: what happened meanwhile is unknown.
        if (reconnect && !resumed) void client.invalidateQueries({ queryKey: taskKeys.all });
      },
    });
  }, [client, enabled]);
}
