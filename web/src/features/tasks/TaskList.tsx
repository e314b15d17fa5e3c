import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useRef } from 'react';
import type { PendingKind } from '../sync/pending';
import { TaskRow } from './TaskRow';
import type { Task } from './types';

export const ROW_HEIGHT = 76;
const OVERSCAN = 8;
const LOAD_AHEAD_ROWS = 30;

interface Props {
  tasks: Task[];
  hasMore: boolean;
  loadingMore: boolean;
  loadMore: () => void;
  readOnly: boolean;
  pending: Map<string, PendingKind>;
  onEdit: (task: Task) => void;
  onDelete: (task: Task) => void;
}

/** Only the rows in view (plus a few) are in the DOM; nearing the end loads the next page. */
export function TaskList({
  tasks,
  hasMore,
  loadingMore,
  loadMore,
  readOnly,
  pending,
  onEdit,
  onDelete,
}: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  // eslint-disable-next-line react-hooks/incompatible-library -- rows re-render on scroll by design
  const virtualizer = useVirtualizer({
    count: tasks.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: OVERSCAN,
    getItemKey: (index) => tasks[index]?.id ?? index,
  });
  const items = virtualizer.getVirtualItems();
  const lastIndex = items.at(-1)?.index ?? 0;

  useEffect(() => {
    if (hasMore && !loadingMore && lastIndex >= tasks.length - LOAD_AHEAD_ROWS) loadMore();
  }, [hasMore, loadingMore, lastIndex, tasks.length, loadMore]);

  return (
    <div ref={scroller} className="task-scroller" tabIndex={-1}>
      <ul aria-label="Tasks" className="task-list" style={{ height: virtualizer.getTotalSize() }}>
        {items.map((item) => {
          const task = tasks[item.index];
          if (!task) return null;
          return (
            <li
              key={item.key}
              aria-setsize={hasMore ? -1 : tasks.length}
              aria-posinset={item.index + 1}
              style={{ transform: `translateY(${item.start}px)`, height: ROW_HEIGHT }}
            >
              <TaskRow
                task={task}
                pending={pending.get(task.id) ?? null}
                readOnly={readOnly}
                onEdit={onEdit}
                onDelete={onDelete}
              />
            </li>
          );
        })}
      </ul>
      {loadingMore && (
        <p className="muted load-more" role="status">
          Loading more tasks…
        </p>
      )}
    </div>
  );
}
