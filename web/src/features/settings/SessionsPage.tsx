import { useState } from 'react';
import { ErrorMessage } from '../../components/ErrorMessage';
import { Confirm } from '../../components/Modal';
import { signOut } from '../auth/api';
import { useRevokeSession, useSessions } from './api';

function when(iso: string) {
  return new Date(iso).toLocaleString();
}

export function Component() {
  const sessions = useSessions();
  const revoke = useRevokeSession();
  const [confirmAll, setConfirmAll] = useState(false);
  const [error, setError] = useState<unknown>(null);

  return (
    <section aria-labelledby="sessions-title" className="stack">
      <h2 id="sessions-title">Sessions</h2>
      <p className="muted">Devices signed in to your account.</p>
      <ErrorMessage error={sessions.error ?? revoke.error ?? error} />
      {sessions.isPending ? (
        <p role="status">Loading sessions…</p>
      ) : (
        <ul aria-label="Sessions" className="card-list">
          {sessions.data?.items.map((s) => (
            <li key={s.id} className="card-row">
              <div>
                <strong>{s.user_agent || 'Unknown device'}</strong>
                {s.current && <span className="badge status-done"> This device</span>}
                <p className="muted small">
                  Signed in {when(s.created_at)} · last used {when(s.last_used_at)}
                </p>
              </div>
              {!s.current && (
                <button
                  type="button"
                  className="secondary"
                  disabled={revoke.isPending}
                  onClick={() => revoke.mutate(s.id)}
                >
                  Revoke
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      <div>
        <button type="button" className="danger" onClick={() => setConfirmAll(true)}>
          Sign out everywhere
        </button>
      </div>
      <Confirm
        open={confirmAll}
        onOpenChange={setConfirmAll}
        title="Sign out everywhere?"
        description="Every session of your account ends, this one included."
        actions={[
          {
            label: 'Sign out everywhere',
            danger: true,
            onSelect: () => void signOut({ everywhere: true }).catch(setError),
          },
        ]}
      />
    </section>
  );
}
