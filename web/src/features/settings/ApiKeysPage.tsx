import { useState, type FormEvent } from 'react';
import { ErrorMessage } from '../../components/ErrorMessage';
import { Modal, ModalClose } from '../../components/Modal';
import { useApiKeys, useCreateApiKey, useRevokeApiKey, type ApiKeyCreated } from './api';

const SCOPES = ['tasks:read', 'tasks:write', 'search:read'] as const;

function NewKeyForm({ onCreated }: { onCreated: (key: ApiKeyCreated) => void }) {
  const create = useCreateApiKey();
  const [scopes, setScopes] = useState<string[]>(['tasks:read']);

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const days = Number(form.get('expires_in_days'));
    const password = String(form.get('password') ?? '');
    const body = {
      name: String(form.get('name')).trim(),
      expires_in_days: days,
      scopes: SCOPES.filter((scope) => scopes.includes(scope)),
      // Needed only when the sign-in is more than 10 minutes old (auth answers 403 then).
      ...(password ? { password } : {}),
    };
    create.mutate(body, { onSuccess: onCreated });
  }

  return (
    <form onSubmit={submit} className="stack">
      <label>
        Name
        <input name="name" required maxLength={100} />
      </label>
      <fieldset>
        <legend>Scopes</legend>
        {SCOPES.map((scope) => (
          <label key={scope} className="check">
            <input
              type="checkbox"
              checked={scopes.includes(scope)}
              onChange={(e) =>
                setScopes(e.target.checked ? [...scopes, scope] : scopes.filter((s) => s !== scope))
              }
            />
            {scope}
          </label>
        ))}
      </fieldset>
      <label>
        Expires in (days)
        <input name="expires_in_days" type="number" min={1} max={365} defaultValue={90} required />
      </label>
      <label>
        Password (if you signed in more than 10 minutes ago)
        <input name="password" type="password" autoComplete="current-password" />
      </label>
      <ErrorMessage error={create.error} />
      <button type="submit" className="primary" disabled={create.isPending}>
        Create
      </button>
    </form>
  );
}

function CreatedKey({ created }: { created: ApiKeyCreated }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="stack">
      <p>Copy the key now: it is shown only once.</p>
      <label>
        New key
        <input readOnly value={created.key} onFocus={(e) => e.currentTarget.select()} />
      </label>
      <button
        type="button"
        className="secondary"
        onClick={() =>
          void navigator.clipboard.writeText(created.key).then(
            () => setCopied(true),
            () => setCopied(false),
          )
        }
      >
        {copied ? 'Copied' : 'Copy'}
      </button>
      <ModalClose className="primary">Done</ModalClose>
    </div>
  );
}

export function Component() {
  const keys = useApiKeys();
  const revoke = useRevokeApiKey();
  const [open, setOpen] = useState(false);
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);

  return (
    <section aria-labelledby="keys-title" className="stack">
      <h2 id="keys-title">API keys</h2>
      <p className="muted">Keys let scripts use the API. Every key expires.</p>
      <div>
        <button
          type="button"
          className="primary"
          onClick={() => {
            setCreated(null);
            setOpen(true);
          }}
        >
          New API key
        </button>
      </div>
      <ErrorMessage error={keys.error ?? revoke.error} />
      {keys.data && keys.data.items.length === 0 && <p className="muted">No API keys yet.</p>}
      <ul aria-label="API keys" className="card-list">
        {keys.data?.items.map((key) => (
          <li key={key.id} className="card-row">
            <div>
              <strong>{key.name}</strong> <code>{key.prefix}…</code>{' '}
              <span className="muted small">{key.scopes.join(', ')}</span>
              <p className="muted small">
                Created {new Date(key.created_at).toLocaleDateString()}
                {key.expires_at && ` · expires ${new Date(key.expires_at).toLocaleDateString()}`}
              </p>
            </div>
            <button type="button" className="secondary" onClick={() => revoke.mutate(key.id)}>
              Revoke
            </button>
          </li>
        ))}
      </ul>
      <Modal open={open} onOpenChange={setOpen} title="New API key">
        {created ? <CreatedKey created={created} /> : <NewKeyForm onCreated={setCreated} />}
      </Modal>
    </section>
  );
}
