import { memo } from 'react';
import { Link } from 'react-router';
import { PENDING_LABEL, type PendingKind } from '../sync/pending';
import { statusLabel, type Task } from './types';

interface Props {
  task: Task;
  /** A write the server has not confirmed yet (queued offline, or on its way). */
  pending: PendingKind | null;
  readOnly: boolean;
  onEdit: (task: Task) => void;
  onDelete: (task: Task) => void;
}

/** Memoised: scrolling re-renders only the rows that enter the window. */
export const TaskRow = memo(function TaskRow({ task, pending, readOnly, onEdit, onDelete }: Props) {
  // A task the server has not created yet has no page, and nothing to edit or delete.
  const unsaved = task.id.startsWith('pending-');
  const marker = pending ?? (unsaved ? 'create' : null);
  const locked = readOnly || unsaved || marker === 'delete' || marker === 'conflict';
  return (
    <div
      className={`task-row${marker ? ' pending' : ''}${marker === 'delete' ? ' pending-delete' : ''}`}
    >
      <div className="task-main">
        {unsaved ? (
          <span className="task-title">{task.title}</span>
        ) : (
          <Link className="task-title" to={`/tasks/${task.id}`}>
            {task.title}
          </Link>
        )}
        <span className="task-meta">
          {marker && <span className="badge pending-badge">{PENDING_LABEL[marker]}</span>}
          <span className={`badge status-${task.status}`}>{statusLabel(task.status)}</span>
          <span className={`badge priority-${task.priority}`}>{task.priority}</span>
          {task.due_date && <span>due {task.due_date.slice(0, 10)}</span>}
          {task.tags.map((tag) => (
            <span key={tag} className="tag">
              #{tag}
            </span>
          ))}
        </span>
      </div>
      <div className="task-actions">
        <button type="button" className="secondary" disabled={locked} onClick={() => onEdit(task)}>
          Edit
        </button>
        <button
          type="button"
          className="danger-ghost"
          disabled={locked}
          onClick={() => onDelete(task)}
        >
          Delete
        </button>
      </div>
    </div>
  );
});
