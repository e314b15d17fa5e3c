/**
 * Sends the queued writes, oldest first, each with its own Idempotency-Key, once there is a
 * network and a session. One tab at a time sends (a Web Lock); if two did, the keys would
 * still make each write happen once. A 412 stops the queue at that edit until the person
 * chooses in the "This task changed" dialog; a write the server refuses for good (deleted
 * task, invalid) is dropped and reported; no answer or a 5xx leaves it for the next try.
 */
import type { QueryClient } from '@tanstack/react-query';
import { ApiError } from '../../lib/api/errors';
import { session } from '../../lib/api/session';
import { applyAnswer, applyDeleted, applyTask, scheduleStatsRefresh } from '../tasks/cache';
import { taskKeys } from '../tasks/keys';
import {
  deleteTask,
  etagAtVersion,
  fetchTask,
  newIdempotencyKey,
  patchTask,
  postTask,
  withRetries,
} from '../tasks/requests';
import { outbox, type Outbox, type OutboxEntry } from './outbox';
import { currentUserId } from './user';

const LOCK_NAME = 'taskstream-outbox';

export type Outcome = 'sent' | 'conflict' | 'dropped' | 'later';

export interface Dropped {
  seq: number;
  what: string;
  reason: string;
}

/** Writes the server refused for good, to tell the person (memory only). */
class DroppedList {
  private items: Dropped[] = [];
  private readonly listeners = new Set<() => void>();
  subscribe = (listener: () => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };
  get = () => this.items;
  add(item: Dropped) {
    this.items = [...this.items, item];
    this.listeners.forEach((l) => l());
  }
  dismiss() {
    this.items = [];
    this.listeners.forEach((l) => l());
  }
}

export const dropped = new DroppedList();

export function describeWrite(entry: OutboxEntry): string {
  const write = entry.write;
  if (write.kind === 'delete') return `Deleting “${write.title}”`;
  return `${write.kind === 'create' ? 'Creating' : 'Saving'} “${write.draft.title}”`;
}

/** Sends one entry and settles it in the queue and the cache. */
export async function sendEntry(
  client: QueryClient,
  entry: OutboxEntry,
  queue: Outbox = outbox,
): Promise<Outcome> {
  const write = entry.write;
  try {
    if (write.kind === 'create') {
      const { task } = await withRetries(() => postTask(write.draft, entry.key));
      applyTask(client, task);
    } else if (write.kind === 'update') {
      const ifMatch =
        write.ifMatch ??
        (write.baseVersion === null ? null : await etagAtVersion(write.taskId, write.baseVersion));
      const written = await withRetries(() =>
        patchTask(write.taskId, write.draft, ifMatch, entry.key),
      );
      applyAnswer(client, written);
      await queue.remove(entry.seq);
      await queue.rebase(write.taskId, written.etag, written.task.version);
      scheduleStatsRefresh(client);
      return 'sent';
    } else {
      await withRetries(() => deleteTask(write.taskId, entry.key));
      applyDeleted(client, write.taskId, Number.MAX_SAFE_INTEGER);
    }
  } catch (error) {
    return settleFailure(entry, error, queue);
  }
  await queue.remove(entry.seq);
  scheduleStatsRefresh(client);
  return 'sent';
}

async function settleFailure(entry: OutboxEntry, error: unknown, queue: Outbox): Promise<Outcome> {
  if (
    !(error instanceof ApiError) ||
    error.status >= 500 ||
    [401, 408, 409, 429].includes(error.status)
  ) {
    return 'later';
  }
  if (error.status === 412) {
    await queue.update({ ...entry, conflict: true });
    return 'conflict';
  }
  if (error.status === 404 && entry.write.kind === 'delete') {
    await queue.remove(entry.seq); // already gone: that is what was asked
    return 'sent';
  }
  await queue.remove(entry.seq);
  const reason = error.status === 404 ? 'The task was deleted meanwhile.' : error.message;
  dropped.add({ seq: entry.seq, what: describeWrite(entry), reason });
  return 'dropped';
}

/** Sends the current user's queue in order until it is empty, blocked or unreachable. */
export async function flushQueue(client: QueryClient, queue: Outbox = outbox): Promise<Outcome> {
  await queue.load();
  for (;;) {
    const user = currentUserId();
    if (!user || session.getStatus() !== 'signed-in' || !navigator.onLine) return 'later';
    const next = queue.pendingFor(user)[0];
    if (!next) return 'sent';
    if (next.conflict) return 'conflict';
    const outcome = await sendEntry(client, next, queue);
    if (outcome === 'later' || outcome === 'conflict') return outcome;
  }
}

let running: Promise<Outcome> | null = null;
let again = false;

async function flushOnce(client: QueryClient): Promise<Outcome> {
  if (typeof navigator !== 'undefined' && navigator.locks) {
    const outcome: Outcome | null = await navigator.locks.request(
      LOCK_NAME,
      { ifAvailable: true },
      (lock) => (lock ? flushQueue(client) : null),
    );
    return outcome ?? 'later';
  }
  return flushQueue(client);
}

/** One flush per tab at a time (a call meanwhile runs it once more after), and one tab at a
 * time (the others skip: the holder sends their entries too, they share the queue). */
export function flushSoon(client: QueryClient): Promise<Outcome> {
  if (running) {
    again = true;
    return running;
  }
  running = (async () => {
    try {
      let outcome: Outcome;
      do {
        again = false;
        outcome = await flushOnce(client);
      } while (again && outcome === 'sent');
      return outcome;
    } finally {
      running = null;
    }
  })();
  return running;
}

/** "Reload": the queued edit is dropped and the task shown as it is on the server now. */
export async function discardConflict(client: QueryClient, entry: OutboxEntry) {
  await outbox.remove(entry.seq);
  if (entry.write.kind === 'update') {
    try {
      applyAnswer(client, await fetchTask(entry.write.taskId));
    } catch {
      void client.invalidateQueries({ queryKey: taskKeys.all });
    }
  }
  void flushSoon(client);
}

/** "Overwrite": sent again without a precondition, under a new key (the old key's answer
 * was the 412, and a replay would repeat it). */
export async function overwriteConflict(client: QueryClient, entry: OutboxEntry) {
  const write =
    entry.write.kind === 'update'
      ? { ...entry.write, ifMatch: null, baseVersion: null }
      : entry.write;
  await outbox.update({ ...entry, write, key: newIdempotencyKey(), conflict: false });
  void flushSoon(client);
}
