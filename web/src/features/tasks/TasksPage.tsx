import { useCallback, useMemo, useState } from 'react';
import { ErrorMessage } from '../../components/ErrorMessage';
import { Confirm, Modal } from '../../components/Modal';
import { useIsOffline } from '../../components/OfflineStatus';
import { NetworkError } from '../../lib/api/errors';
import { overlayPending } from '../sync/pending';
import { useCanQueue, usePendingWrites } from '../sync/useSync';
import { fetchTask, useCreateTask, useDeleteTask, useTaskList, type TaskWithEtag } from './api';
import { EditTaskDialog } from './EditTaskDialog';
import { Filters } from './Filters';
import { Summary } from './Summary';
import { EMPTY_DRAFT, TaskForm } from './TaskForm';
import { TaskList } from './TaskList';
import type { Task, TaskFilters } from './types';

export function Component() {
  const [filters, setFilters] = useState<TaskFilters>({});
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<TaskWithEtag | null>(null);
  const [deleting, setDeleting] = useState<Task | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const offline = useIsOffline();
  // Offline, writes are queued for whoever is signed in on this device.
  const canQueue = useCanQueue();
  const readOnly = offline && !canQueue;
  const queued = usePendingWrites();
  const list = useTaskList(filters);
  const create = useCreateTask();
  const remove = useDeleteTask();
  const { tasks, pending } = useMemo(
    () => overlayPending(list.data?.pages.flatMap((page) => page.items) ?? [], queued, filters),
    [list.data, queued, filters],
  );
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = list;
  const loadMore = useCallback(() => void fetchNextPage(), [fetchNextPage]);

  const startEdit = useCallback(
    async (task: Task) => {
      setActionError(null);
      // Offline (or with a queued edit of it), the edit starts from the task as shown; its
      // version is checked when the queue sends it.
      const fromList = { task, etag: null };
      if (offline || pending.has(task.id)) return setEditing(fromList);
      try {
        // The ETag the edit starts from: a save fails with 412 if the task changed since.
        setEditing(await fetchTask(task.id));
      } catch (error) {
        if (error instanceof NetworkError) setEditing(fromList);
        else setActionError(error);
      }
    },
    [offline, pending],
  );
  const startDelete = useCallback((task: Task) => setDeleting(task), []);

  return (
    <div className="page tasks-page">
      <div className="page-head">
        <h1>Tasks</h1>
        <button
          type="button"
          className="primary"
          disabled={readOnly}
          onClick={() => setCreating(true)}
        >
          New task
        </button>
      </div>
      <Summary />
      <Filters filters={filters} onChange={setFilters} />
      <ErrorMessage error={actionError ?? create.error ?? remove.error ?? list.error} />
      {list.isPending && !list.isError ? (
        <p className="muted" role="status">
          Loading tasks…
        </p>
      ) : tasks.length === 0 && !list.isError ? (
        <div className="empty">
          <p>{Object.keys(filters).length ? 'No task matches these filters.' : 'No tasks yet.'}</p>
          {!Object.keys(filters).length && <p className="muted">Create one with “New task”.</p>}
        </div>
      ) : (
        <TaskList
          tasks={tasks}
          hasMore={hasNextPage}
          loadingMore={isFetchingNextPage}
          loadMore={loadMore}
          readOnly={readOnly}
          pending={pending}
          onEdit={startEdit}
          onDelete={startDelete}
        />
      )}
      <Modal open={creating} onOpenChange={setCreating} title="New task">
        <TaskForm
          initial={EMPTY_DRAFT}
          busy={false}
          onSave={(draft) => {
            setCreating(false);
            create.mutate(draft);
          }}
        />
      </Modal>
      {editing && <EditTaskDialog base={editing} onClose={() => setEditing(null)} />}
      <Confirm
        open={deleting !== null}
        onOpenChange={(open) => !open && setDeleting(null)}
        title="Delete this task?"
        description={deleting ? `“${deleting.title}” will be deleted for good.` : ''}
        actions={[
          {
            label: 'Delete',
            danger: true,
            onSelect: () => {
              if (deleting) remove.mutate(deleting);
              setDeleting(null);
            },
          },
        ]}
      />
    </div>
  );
}
