/**
 * Queued writes shown in the task list before the server has them: queued creates first
 * (newest on top), queued edits over the task they change, queued deletes marked.
 */
import { matchesFilters } from '../tasks/cache';
import type { Task, TaskFilters } from '../tasks/types';
import type { OutboxEntry } from './outbox';

export type PendingKind = 'create' | 'update' | 'delete' | 'conflict';

export interface Overlaid {
  tasks: Task[];
  pending: Map<string, PendingKind>;
}

export const QUEUED_PREFIX = 'pending-queued-';

export function overlayPending(
  tasks: Task[],
  entries: OutboxEntry[],
  filters: TaskFilters = {},
): Overlaid {
  const pending = new Map<string, PendingKind>();
  const created: Task[] = [];
  const changes = new Map<string, OutboxEntry[]>();
  for (const entry of entries) {
    const write = entry.write;
    if (write.kind === 'create') {
      const task: Task = {
        ...write.draft,
        id: `${QUEUED_PREFIX}${entry.seq}`,
        created_at: entry.queuedAt,
        updated_at: entry.queuedAt,
        version: 0,
      };
      if (matchesFilters(task, filters)) {
        created.unshift(task);
        pending.set(task.id, 'create');
      }
    } else {
      changes.set(write.taskId, [...(changes.get(write.taskId) ?? []), entry]);
    }
  }
  const shown = tasks.map((task) => {
    const queued = changes.get(task.id);
    if (!queued) return task;
    let next = task;
    let kind: PendingKind = 'update';
    for (const entry of queued) {
      if (entry.write.kind === 'update') next = { ...next, ...entry.write.draft };
      kind = entry.conflict ? 'conflict' : entry.write.kind === 'delete' ? 'delete' : kind;
    }
    pending.set(task.id, kind);
    return next;
  });
  return { tasks: [...created, ...shown], pending };
}

export const PENDING_LABEL: Record<PendingKind, string> = {
  create: 'Pending',
  update: 'Pending',
  delete: 'Pending delete',
  conflict: 'Pending: changed elsewhere',
};
