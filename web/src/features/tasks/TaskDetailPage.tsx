import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { isStatus } from '../../lib/api/client';
import { ErrorMessage } from '../../components/ErrorMessage';
import { useIsOffline } from '../../components/OfflineStatus';
import { useCanQueue } from '../sync/useSync';
import { useTask } from './api';
import { EditTaskDialog } from './EditTaskDialog';
import { PRIORITIES, statusLabel } from './types';

export function Component() {
  const { id = '' } = useParams();
  const query = useTask(id);
  const offline = useIsOffline();
  const canQueue = useCanQueue();
  const readOnly = offline && !canQueue;
  const [editing, setEditing] = useState(false);

  if (query.isPending) {
    return (
      <p className="page muted" role="status">
        Loading task…
      </p>
    );
  }
  if (isStatus(query.error, 404) || isStatus(query.error, 422)) {
    return (
      <section className="page narrow">
        <h1>Task not found</h1>
        <p>It may have been deleted.</p>
        <Link to="/">Back to your tasks</Link>
      </section>
    );
  }
  if (!query.data) return <ErrorMessage error={query.error} />;
  const { task } = query.data;
  return (
    <article className="page narrow task-detail" aria-labelledby="task-title">
      <p>
        <Link to="/">← All tasks</Link>
      </p>
      <h1 id="task-title">{task.title}</h1>
      <dl className="details">
        <dt>Status</dt>
        <dd>{statusLabel(task.status)}</dd>
        <dt>Priority</dt>
        <dd>{PRIORITIES.find((p) => p.value === task.priority)?.label}</dd>
        <dt>Due</dt>
        <dd>{task.due_date ? task.due_date.slice(0, 10) : 'No due date'}</dd>
        <dt>Tags</dt>
        <dd>{task.tags.length ? task.tags.map((t) => `#${t}`).join(' ') : 'None'}</dd>
        <dt>Updated</dt>
        <dd>{new Date(task.updated_at).toLocaleString()}</dd>
      </dl>
      <p className="description">
        {task.description || <span className="muted">No description.</span>}
      </p>
      <button
        type="button"
        className="secondary"
        disabled={readOnly}
        onClick={() => setEditing(true)}
      >
        Edit
      </button>
      {editing && <EditTaskDialog base={query.data} onClose={() => setEditing(false)} />}
    </article>
  );
}
