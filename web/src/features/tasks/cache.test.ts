import { QueryClient } from '@tanstack/react-query';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { applyLiveMessage } from '../sync/live';
import { forgetTombstones, removeFromList, upsertIntoList } from './cache';
import { taskKeys, type ListData, type TaskWithEtag } from './keys';
import type { Task } from './types';

function task(id: string, extra: Partial<Task> = {}): Task {
  return {
    id,
    title: `Task ${id}`,
    description: '',
    status: 'todo',
    priority: 'medium',
    tags: [],
    due_date: null,
    created_at: `2026-01-0${id.slice(-1)}T00:00:00Z`,
    updated_at: `2026-01-0${id.slice(-1)}T00:00:00Z`,
    version: 1,
    ...extra,
  };
}

function list(pages: Task[][], more = false): ListData {
  return {
    pages: pages.map((items, i) => ({
      items,
      next_cursor: more || i < pages.length - 1 ? `c${i}` : null,
    })),
    pageParams: pages.map((_, i) => (i ? `c${i - 1}` : null)),
  };
}

const ids = (data: ListData) => data.pages.map((page) => page.items.map((t) => t.id));

afterEach(() => {
  forgetTombstones();
  vi.useRealTimers();
});

describe('upsertIntoList', () => {
  const base = list([[task('t3'), task('t2'), task('t1')]]);

  it('puts a new task where the sort has it (newest first by default)', () => {
    expect(ids(upsertIntoList(base, task('t4'), {}))).toEqual([['t4', 't3', 't2', 't1']]);
    const oldest = { ...task('t0'), created_at: '2025-12-31T00:00:00Z' };
    expect(ids(upsertIntoList(base, oldest, {}))).toEqual([['t3', 't2', 't1', 't0']]);
  });

  it('replaces a task only with a newer version', () => {
    const newer = task('t2', { title: 'Renamed', version: 2 });
    const updated = upsertIntoList(base, newer, {});
    expect(updated.pages[0]?.items[1]?.title).toBe('Renamed');
    expect(upsertIntoList(updated, task('t2', { version: 2, title: 'Same' }), {})).toBe(updated);
    expect(upsertIntoList(updated, task('t2', { version: 1 }), {})).toBe(updated);
  });

  it('removes a task that no longer matches the filters, adds one that now does', () => {
    const done = task('t2', { status: 'done', version: 2 });
    expect(ids(upsertIntoList(base, done, { status: 'todo' }))).toEqual([['t3', 't1']]);
    const doneList = list([[task('t1', { status: 'done' })]]);
    expect(ids(upsertIntoList(doneList, done, { status: 'done' }))).toEqual([['t2', 't1']]);
  });

  it('moves a task whose sort key changed', () => {
    const byUpdate = upsertIntoList(
      base,
      task('t1', { updated_at: '2026-02-01T00:00:00Z', version: 2 }),
      { sort: '-updated_at' },
    );
    expect(ids(byUpdate)).toEqual([['t1', 't3', 't2']]);
  });

  it('leaves out a task that sorts after the loaded rows when more pages follow', () => {
    const partial = list([[task('t3'), task('t2')]], true);
    const older = { ...task('t1'), created_at: '2025-01-01T00:00:00Z' };
    expect(upsertIntoList(partial, older, {})).toBe(partial);
  });

  it('sorts by due date with undated tasks last, by priority highest first', () => {
    const dated = list([[task('t1', { due_date: '2026-03-01T00:00:00Z' }), task('t2')]]);
    const sooner = task('t3', { due_date: '2026-02-01T00:00:00Z' });
    expect(ids(upsertIntoList(dated, sooner, { sort: 'due_date' }))).toEqual([['t3', 't1', 't2']]);
    const ranked = list([[task('t1', { priority: 'high' }), task('t2', { priority: 'low' })]]);
    expect(ids(upsertIntoList(ranked, task('t3'), { sort: '-priority' }))).toEqual([
      ['t1', 't3', 't2'],
    ]);
  });
});

describe('removeFromList', () => {
  it('removes only what is older than the delete', () => {
    const data = list([[task('t2', { version: 3 }), task('t1')]]);
    expect(ids(removeFromList(data, 't1', 2))).toEqual([['t2']]);
    expect(removeFromList(data, 't2', 3)).toBe(data);
  });
});

describe('applyLiveMessage', () => {
  function client() {
    const queryClient = new QueryClient({ defaultOptions: { queries: { staleTime: Infinity } } });
    queryClient.setQueryData(taskKeys.list({}), list([[task('t2'), task('t1')]]));
    queryClient.setQueryData(taskKeys.list({ status: 'done' }), list([[]]));
    queryClient.setQueryData<TaskWithEtag>(taskKeys.detail('t1'), {
      task: task('t1'),
      etag: '"e1"',
    });
    queryClient.setQueryData(taskKeys.stats(), { total: 2 });
    return queryClient;
  }
  const event = (type: string, data: Task) => ({
    event: `taskstream.task.${type}`,
    data: JSON.stringify(data),
    id: '1.2',
  });
  const listIds = (c: QueryClient, filters = {}) =>
    ids(c.getQueryData<ListData>(taskKeys.list(filters)) as ListData);

  it('applies created, updated and deleted events to every cached list', () => {
    const c = client();
    expect(applyLiveMessage(c, event('created', task('t3')))).toBe('task');
    expect(listIds(c)).toEqual([['t3', 't2', 't1']]);
    applyLiveMessage(c, event('updated', task('t1', { status: 'done', version: 2 })));
    expect(listIds(c, { status: 'done' })).toEqual([['t1']]);
    applyLiveMessage(c, event('deleted', task('t2', { version: 2 })));
    expect(listIds(c)).toEqual([['t3', 't1']]);
    // A late event for the deleted task does not bring it back.
    applyLiveMessage(c, event('updated', task('t2', { version: 2 })));
    expect(listIds(c)).toEqual([['t3', 't1']]);
  });

  it('ignores events not newer than the cache, and refetches a detail only when older', () => {
    const c = client();
    const before = c.getQueryData(taskKeys.list({}));
    applyLiveMessage(c, event('updated', task('t1', { title: 'Stale', version: 1 })));
    expect(c.getQueryData(taskKeys.list({}))).toBe(before);
    expect(c.getQueryState(taskKeys.detail('t1'))?.isInvalidated).toBe(false);
    applyLiveMessage(c, event('updated', task('t1', { version: 2 })));
    expect(c.getQueryState(taskKeys.detail('t1'))?.isInvalidated).toBe(true);
  });

  it('refetches the summary once per burst of events', () => {
    vi.useFakeTimers();
    const c = client();
    const invalidate = vi.spyOn(c, 'invalidateQueries');
    for (let n = 3; n < 9; n += 1) applyLiveMessage(c, event('created', task(`t${n}`)));
    expect(invalidate).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1_000);
    expect(invalidate).toHaveBeenCalledTimes(1);
    expect(invalidate).toHaveBeenCalledWith({ queryKey: taskKeys.stats() });
  });

  it('invalidates the task queries on reset and ignores what it does not know', () => {
    const c = client();
    expect(applyLiveMessage(c, { event: 'reset', data: '{}', id: null })).toBe('reset');
    expect(c.getQueryState(taskKeys.list({}))?.isInvalidated).toBe(true);
    expect(c.getQueryState(taskKeys.stats())?.isInvalidated).toBe(true);
    const c2 = client();
    expect(applyLiveMessage(c2, { event: 'other', data: '{}', id: null })).toBe('ignored');
    expect(applyLiveMessage(c2, { ...event('updated', task('t1')), data: 'nope' })).toBe('ignored');
  });
});
