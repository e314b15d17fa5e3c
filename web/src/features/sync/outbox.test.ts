import { IDBFactory } from 'fake-indexeddb';
import { QueryClient } from '@tanstack/react-query';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resetSessionForTests, session } from '../../lib/api/session';
import { taskKeys, type ListData } from '../tasks/keys';
import { EMPTY_DRAFT } from '../tasks/TaskForm';
import type { Task } from '../tasks/types';
import { dropped, flushQueue } from './flush';
import { IndexedDbStorage, MemoryStorage, Outbox, type OutboxEntry } from './outbox';
import { overlayPending } from './pending';

const token = (sub: string) => `h.${btoa(JSON.stringify({ sub }))}.s`;

function serverTask(id: string, title: string, version = 1): Task {
  return {
    ...EMPTY_DRAFT,
    title,
    id,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    version,
  };
}

interface Sent {
  method: string;
  path: string;
  key: string | null;
  ifMatch: string | null;
}

/** A fake server: answers in order from `answers`; records every request. */
function server(answers: (() => Response | Promise<Response>)[]) {
  const sent: Sent[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (request: Request) => {
      sent.push({
        method: request.method,
        path: new URL(request.url).pathname,
        key: request.headers.get('Idempotency-Key'),
        ifMatch: request.headers.get('If-Match'),
      });
      const next = answers.shift();
      if (!next) throw new Error('unexpected request');
      return next();
    }),
  );
  return sent;
}

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}) =>
  () =>
    new Response(JSON.stringify(body), {
      status,
      headers: { 'Content-Type': 'application/json', ...headers },
    });
const lost = () => Promise.reject(new TypeError('Failed to fetch'));

function queryClient() {
  const client = new QueryClient({ defaultOptions: { queries: { staleTime: Infinity } } });
  client.setQueryData<ListData>(taskKeys.list({}), {
    pages: [{ items: [serverTask('a', 'Existing')], next_cursor: null }],
    pageParams: [null],
  });
  return client;
}

const titles = (client: QueryClient) =>
  client
    .getQueryData<ListData>(taskKeys.list({}))
    ?.pages.flatMap((p) => p.items.map((t) => t.title));

beforeEach(() => session.signedIn(token('u1')));
afterEach(() => {
  vi.unstubAllGlobals();
  resetSessionForTests();
  dropped.dismiss();
});

describe('IndexedDbStorage', () => {
  it('keeps entries in order across instances, updates, removes and clears them', async () => {
    const factory = new IDBFactory();
    const first = new IndexedDbStorage(factory);
    const entry = {
      userId: 'u1',
      write: { kind: 'create', draft: { ...EMPTY_DRAFT, title: 'A' } } as const,
      queuedAt: '2026-01-01T00:00:00Z',
      conflict: false,
    };
    const a = await first.add({ ...entry, key: 'k1' });
    await first.add({ ...entry, key: 'k2' });
    await first.setUser('u1');
    const second = new IndexedDbStorage(factory); // a reload
    expect((await second.all()).map((e) => e.key)).toEqual(['k1', 'k2']);
    expect(await second.getUser()).toBe('u1');
    await second.put({ ...a, conflict: true });
    await second.remove((await second.all())[1]?.seq ?? -1);
    expect(await second.all()).toEqual([{ ...a, conflict: true }]);
    await second.clear();
    expect(await second.all()).toEqual([]);
    expect(await second.getUser()).toBeNull();
  });
});

describe('flushQueue', () => {
  it('sends in order, each write with its own key, the same key again after a lost answer', async () => {
    const outbox = new Outbox(new MemoryStorage());
    await outbox.enqueue('u1', { kind: 'create', draft: { ...EMPTY_DRAFT, title: 'One' } }, 'k1');
    await outbox.enqueue('u1', { kind: 'create', draft: { ...EMPTY_DRAFT, title: 'Two' } }, 'k2');
    await outbox.enqueue(
      'u2',
      { kind: 'create', draft: { ...EMPTY_DRAFT, title: 'Not mine' } },
      'k3',
    );
    const sent = server([
      lost,
      json(201, serverTask('b', 'One'), { 'Idempotent-Replayed': 'true' }),
      json(201, serverTask('c', 'Two')),
    ]);
    const client = queryClient();
    expect(await flushQueue(client, outbox)).toBe('sent');
    expect(sent.map((s) => s.key)).toEqual(['k1', 'k1', 'k2']);
    expect(sent.every((s) => s.method === 'POST' && s.path === '/api/v1/tasks')).toBe(true);
    expect(outbox.pendingFor('u1')).toEqual([]);
    expect(outbox.pendingFor('u2')).toHaveLength(1); // another user's writes are never sent
    // Same created_at: the server's tie-break (id, descending) orders them.
    expect(titles(client)).toEqual(['Two', 'One', 'Existing']);
  });

  it('stops at an edit whose task changed (412) and keeps it for the conflict dialog', async () => {
    const outbox = new Outbox(new MemoryStorage());
    const edit = { ...EMPTY_DRAFT, title: 'Edited offline' };
    await outbox.enqueue(
      'u1',
      { kind: 'update', taskId: 'a', draft: edit, ifMatch: null, baseVersion: 1 },
      'k1',
    );
    await outbox.enqueue('u1', { kind: 'delete', taskId: 'z', title: 'Later' }, 'k2');
    // The version check before sending finds version 2: the edit started from version 1.
    const sent = server([json(200, serverTask('a', 'Changed elsewhere', 2), { ETag: '"a-v2"' })]);
    expect(await flushQueue(queryClient(), outbox)).toBe('conflict');
    expect(sent.map((s) => s.method)).toEqual(['GET']);
    const [first, second] = outbox.pendingFor('u1');
    expect(first?.conflict).toBe(true);
    expect(second?.conflict).toBe(false);
  });

  it("chains queued edits of one task: the second starts from the first one's answer", async () => {
    const outbox = new Outbox(new MemoryStorage());
    const draft = (title: string) => ({ ...EMPTY_DRAFT, title });
    for (const [n, title] of [
      [1, 'First'],
      [2, 'Second'],
    ] as const) {
      await outbox.enqueue(
        'u1',
        { kind: 'update', taskId: 'a', draft: draft(title), ifMatch: '"a-v1"', baseVersion: 1 },
        `k${n}`,
      );
    }
    const sent = server([
      json(200, serverTask('a', 'First', 2), { ETag: '"a-v2"' }),
      json(200, serverTask('a', 'Second', 3), { ETag: '"a-v3"' }),
    ]);
    const client = queryClient();
    expect(await flushQueue(client, outbox)).toBe('sent');
    expect(sent.map((s) => [s.method, s.ifMatch, s.key])).toEqual([
      ['PATCH', '"a-v1"', 'k1'],
      ['PATCH', '"a-v2"', 'k2'],
    ]);
    expect(titles(client)).toEqual(['Second']);
  });

  it('drops what the server refuses for good, reports it, and goes on; waits on 5xx', async () => {
    const outbox = new Outbox(new MemoryStorage());
    await outbox.enqueue('u1', { kind: 'delete', taskId: 'gone', title: 'Gone' }, 'k1');
    await outbox.enqueue(
      'u1',
      { kind: 'update', taskId: 'gone2', draft: EMPTY_DRAFT, ifMatch: '"x"', baseVersion: 1 },
      'k2',
    );
    await outbox.enqueue('u1', { kind: 'create', draft: { ...EMPTY_DRAFT, title: 'Later' } }, 'k3');
    server([
      json(404, { status: 404, detail: 'No such task' }),
      json(404, { status: 404, detail: 'No such task' }),
      json(503, { status: 503, detail: 'Down' }),
    ]);
    expect(await flushQueue(queryClient(), outbox)).toBe('later');
    expect(outbox.pendingFor('u1').map((e) => e.key)).toEqual(['k3']);
    expect(dropped.get().map((d) => d.reason)).toEqual(['The task was deleted meanwhile.']);
  });

  it('sends nothing while offline or signed out', async () => {
    const outbox = new Outbox(new MemoryStorage());
    await outbox.enqueue('u1', { kind: 'create', draft: EMPTY_DRAFT }, 'k1');
    const sent = server([]);
    session.signedOut({ broadcast: false });
    expect(await flushQueue(queryClient(), outbox)).toBe('later');
    expect(sent).toEqual([]);
  });
});

describe('overlayPending', () => {
  it('shows queued creates first, queued edits over their task, deletes and conflicts marked', () => {
    const entry = (seq: number, write: OutboxEntry['write'], conflict = false): OutboxEntry => ({
      seq,
      userId: 'u1',
      key: `k${seq}`,
      write,
      queuedAt: '2026-01-02T00:00:00Z',
      conflict,
    });
    const tasks = [serverTask('a', 'A'), serverTask('b', 'B'), serverTask('c', 'C')];
    const { tasks: shown, pending } = overlayPending(tasks, [
      entry(1, { kind: 'create', draft: { ...EMPTY_DRAFT, title: 'New 1' } }),
      entry(2, { kind: 'create', draft: { ...EMPTY_DRAFT, title: 'New 2', status: 'done' } }),
      entry(3, {
        kind: 'update',
        taskId: 'a',
        draft: { ...EMPTY_DRAFT, title: 'A2' },
        ifMatch: null,
        baseVersion: 1,
      }),
      entry(4, { kind: 'delete', taskId: 'b', title: 'B' }),
      entry(
        5,
        { kind: 'update', taskId: 'c', draft: EMPTY_DRAFT, ifMatch: null, baseVersion: 1 },
        true,
      ),
    ]);
    expect(shown.map((t) => t.title)).toEqual(['New 2', 'New 1', 'A2', 'B', '']);
    expect([...pending.values()]).toEqual(['create', 'create', 'update', 'delete', 'conflict']);
    const filtered = overlayPending(
      tasks,
      [entry(2, { kind: 'create', draft: { ...EMPTY_DRAFT, status: 'done' } })],
      {
        status: 'todo',
      },
    );
    expect(filtered.pending.size).toBe(0);
  });
});
