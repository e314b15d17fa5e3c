import { useState } from 'react';
import { isStatus } from '../../lib/api/client';
import { ErrorMessage } from '../../components/ErrorMessage';
import { Confirm, Modal } from '../../components/Modal';
import { fetchTask, useUpdateTask } from './api';
import { TaskForm, draftOf } from './TaskForm';
import type { Task, TaskDraft } from './types';

interface Base {
  task: Task;
  etag: string | null;
}

/**
 * Edits send If-Match with the ETag the edit started from (or, started offline without one,
 * the version, checked before sending). A 412 means someone else saved first: "Reload" starts
 * over from their version, "Overwrite" saves ours over it. Offline, the edit is queued and
 * the dialog closes; the queue asks the same question if the task changed meanwhile.
 */
export function EditTaskDialog({ base, onClose }: { base: Base; onClose: () => void }) {
  const [current, setCurrent] = useState(base);
  const [pending, setPending] = useState<TaskDraft | null>(null);
  const [conflict, setConflict] = useState(false);
  const update = useUpdateTask();

  function save(draft: TaskDraft, overwrite: boolean) {
    setPending(draft);
    const etag = overwrite ? null : current.etag;
    const baseVersion = overwrite ? null : current.task.version;
    update.mutate(
      { id: current.task.id, draft, etag, baseVersion },
      { onSuccess: onClose, onError: (error) => setConflict(isStatus(error, 412)) },
    );
  }

  async function reload() {
    const latest = await fetchTask(current.task.id);
    update.reset();
    setCurrent(latest);
  }

  return (
    <>
      <Modal open onOpenChange={(open) => !open && onClose()} title="Edit task">
        <TaskForm
          key={`${current.task.id}-${current.task.version}`}
          initial={draftOf(current.task)}
          busy={update.isPending}
          onSave={(draft) => save(draft, false)}
        />
        {!conflict && <ErrorMessage error={update.error} />}
      </Modal>
      <Confirm
        open={conflict}
        onOpenChange={setConflict}
        title="This task changed"
        description="Someone saved a newer version of this task while you were editing. Reload it (your changes are dropped) or overwrite it with yours."
        actions={[
          { label: 'Reload', onSelect: () => void reload() },
          { label: 'Overwrite', onSelect: () => pending && save(pending, true), danger: true },
        ]}
      />
    </>
  );
}
