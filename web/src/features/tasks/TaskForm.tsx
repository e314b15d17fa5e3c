import { useState, type FormEvent } from 'react';
import { ModalClose } from '../../components/Modal';
import {
  PRIORITIES,
  STATUSES,
  type Task,
  type TaskDraft,
  type TaskPriority,
  type TaskStatus,
} from './types';

export const EMPTY_DRAFT: TaskDraft = {
  title: '',
  description: '',
  status: 'todo',
  priority: 'medium',
  tags: [],
  due_date: null,
};

export function draftOf(task: Task): TaskDraft {
  const { title, description, status, priority, tags, due_date } = task;
  return { title, description, status, priority, tags, due_date };
}

function parseTags(text: string): string[] {
  return [
    ...new Set(
      text
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    ),
  ];
}

/** The task's fields; `key` it by the task (and version) to start from fresh values. */
export function TaskForm({
  initial,
  busy,
  onSave,
}: {
  initial: TaskDraft;
  busy: boolean;
  onSave: (draft: TaskDraft) => void;
}) {
  const [tags, setTags] = useState(initial.tags.join(', '));

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const due = String(form.get('due_date') ?? '');
    onSave({
      title: String(form.get('title')).trim(),
      description: String(form.get('description') ?? ''),
      status: form.get('status') as TaskStatus,
      priority: form.get('priority') as TaskPriority,
      tags: parseTags(tags),
      due_date: due ? `${due}T00:00:00Z` : null,
    });
  }

  return (
    <form onSubmit={submit} className="stack">
      <label>
        Title
        <input name="title" defaultValue={initial.title} required maxLength={200} />
      </label>
      <label>
        Description
        <textarea
          name="description"
          defaultValue={initial.description}
          maxLength={10000}
          rows={4}
        />
      </label>
      <label>
        Tags
        <input
          name="tags"
          value={tags}
          onChange={(e) => setTags(e.target.value)}
          aria-describedby="tags-hint"
        />
      </label>
      <p id="tags-hint" className="muted small">
        Comma-separated, for example: home, urgent
      </p>
      <div className="row">
        <label>
          Status
          <select name="status" defaultValue={initial.status}>
            {STATUSES.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Priority
          <select name="priority" defaultValue={initial.priority}>
            {PRIORITIES.map((p) => (
              <option key={p.value} value={p.value}>
                {p.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Due date
          <input name="due_date" type="date" defaultValue={initial.due_date?.slice(0, 10) ?? ''} />
        </label>
      </div>
      <div className="dialog-actions">
        <ModalClose className="secondary" type="button">
          Cancel
        </ModalClose>
        <button type="submit" className="primary" disabled={busy}>
          Save
        </button>
      </div>
    </form>
  );
}
