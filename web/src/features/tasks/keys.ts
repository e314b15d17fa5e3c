import type { InfiniteData } from '@tanstack/react-query';
import type { Task, TaskFilters, TaskList } from './types';

export const taskKeys = {
  all: ['tasks'] as const,
  lists: () => [...taskKeys.all, 'list'] as const,
  list: (filters: TaskFilters) => [...taskKeys.lists(), filters] as const,
  detail: (id: string) => [...taskKeys.all, 'detail', id] as const,
  stats: () => [...taskKeys.all, 'stats'] as const,
};

export type ListData = InfiniteData<TaskList, string | null>;

export interface TaskWithEtag {
  task: Task;
  etag: string | null;
}
