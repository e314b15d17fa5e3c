import { useCallback, useMemo, useState } from 'react';
import { ErrorMessage } from '../../components/ErrorMessage';
import { Confirm, Modal } from '../../components/Modal';
import { useIsOffline } from '../../components/OfflineStatus';
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
  const list = useTaskList(filters);
  const create = useCreateTask();
  const remove = useDeleteTask();
  const tasks = useMemo(() => list.data?.pages.flatMap((page) => page.items) ?? [], [list.data]);
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = list;
  const loadMore = useCallback(() => void fetchNextPage(), [fetchNextPage]);

  const startEdit = useCallback(async (task: Task) => {
    setActionError(null);
    try {
      // The ETag the edit starts from: a save fails with 412 if the task changed since.
      setEditing(await fetchTask(task.id));
    } catch (error) {
      setActionError(error);
    }
  }, []);
  const startDelete = useCallback((task: Task) => setDeleting(task), []);

  return (
    <div className="page tasks-page">
      <div className="page-head">
        <h1>Tasks</h1>
        <button
          type="button"
          className="primary"
          disabled={offline}
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
          readOnly={offline}
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
              if (deleting) remove.mutate(deleting.id);
              setDeleting(null);
            },
          },
        ]}
      />
    </div>
  );
}
