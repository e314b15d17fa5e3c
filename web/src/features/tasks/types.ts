import type { components } from '../../lib/api/schema';

export type Task = components['schemas']['PublicTask'];
export type TaskStatus = components['schemas']['TaskStatus'];
export type TaskPriority = components['schemas']['TaskPriority'];
export type TaskCreate = components['schemas']['TaskCreate'];
export type TaskList = components['schemas']['TaskList'];
export type TaskStats = components['schemas']['TaskStats'];

export const STATUSES: { value: TaskStatus; label: string }[] = [
  { value: 'todo', label: 'To do' },
  { value: 'in_progress', label: 'In progress' },
  { value: 'done', label: 'Done' },
];
export const PRIORITIES: { value: TaskPriority; label: string }[] = [
  { value: 'low', label: 'Low' },
  { value: 'medium', label: 'Medium' },
  { value: 'high', label: 'High' },
];

export type TaskSort = '-created_at' | 'created_at' | '-updated_at' | 'due_date' | '-priority';

export interface TaskFilters {
  status?: TaskStatus;
  priority?: TaskPriority;
  tag?: string;
  due_before?: string;
  sort?: TaskSort;
}

export interface TaskDraft {
  title: string;
  description: string;
  status: TaskStatus;
  priority: TaskPriority;
  tags: string[];
  due_date: string | null;
}

export function statusLabel(status: TaskStatus) {
  return STATUSES.find((s) => s.value === status)?.label ?? status;
}
