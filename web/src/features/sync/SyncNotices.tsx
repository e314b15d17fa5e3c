import { useQueryClient } from '@tanstack/react-query';
import { useState, useSyncExternalStore } from 'react';
import { Confirm } from '../../components/Modal';
import { discardConflict, dropped, overwriteConflict } from './flush';
import { usePendingWrites } from './useSync';

/**
 * What the queue needs to tell: a queued edit that met a newer version (the same "This task
 * changed" choice as an edit made online), and writes the server refused for good.
 */
export function SyncNotices() {
  const client = useQueryClient();
  const conflict = usePendingWrites().find((entry) => entry.conflict);
  const [dismissed, setDismissed] = useState<number | null>(null);
  const refused = useSyncExternalStore(dropped.subscribe, dropped.get);
  const title =
    conflict?.write.kind === 'delete' ? conflict.write.title : conflict?.write.draft.title;
  return (
    <>
      {refused.length > 0 && (
        <div role="alert" className="error sync-dropped">
          {refused.map((item) => (
            <p key={item.seq}>
              {item.what} made offline failed: {item.reason}
            </p>
          ))}
          <button type="button" className="ghost" onClick={() => dropped.dismiss()}>
            Dismiss
          </button>
        </div>
      )}
      <Confirm
        open={conflict !== undefined && conflict.seq !== dismissed}
        onOpenChange={(open) => !open && conflict && setDismissed(conflict.seq)}
        title="This task changed"
        description={`Someone saved a newer version of “${title ?? ''}” before your offline edit was sent. Reload it (your edit is dropped) or overwrite it with yours.`}
        actions={[
          { label: 'Reload', onSelect: () => conflict && void discardConflict(client, conflict) },
          {
            label: 'Overwrite',
            danger: true,
            onSelect: () => conflict && void overwriteConflict(client, conflict),
          },
        ]}
      />
    </>
  );
}
