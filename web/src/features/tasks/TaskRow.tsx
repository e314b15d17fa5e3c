import { memo } from 'react';
import { Link } from 'react-router';
import { statusLabel, type Task } from './types';

interface Props {
  task: Task;
  readOnly: boolean;
  onEdit: (task: Task) => void;
  onDelete: (task: Task) => void;
}

/** Memoised: scrolling re-renders only the rows that enter the window. */
export const TaskRow = memo(function TaskRow({ task, readOnly, onEdit, onDelete }: Props) {
  const pending = task.id.startsWith('pending-');
  return (
    <div className={`task-row${pending ? ' pending' : ''}`}>
      <div className="task-main">
        {pending ? (
          <span className="task-title">{task.title}</span>
        ) : (
          <Link className="task-title" to={`/tasks/${task.id}`}>
            {task.title}
          </Link>
        )}
        <span className="task-meta">
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
        <button
          type="button"
          className="secondary"
          disabled={readOnly || pending}
          onClick={() => onEdit(task)}
        >
          Edit
        </button>
        <button
          type="button"
          className="danger-ghost"
          disabled={readOnly || pending}
          onClick={() => onDelete(task)}
        >
          Delete
        </button>
      </div>
    </div>
  );
});
