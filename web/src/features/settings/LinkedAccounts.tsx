import { useState } from 'react';
import { useSearchParams } from 'react-router';
import { ErrorMessage } from '../../components/ErrorMessage';
import { Confirm } from '../../components/Modal';
import { isStatus } from '../../lib/api/client';
import { useOidcProviders, type Provider } from '../auth/api';
import { oidcErrorMessage } from '../auth/oidcErrors';
import { useIdentities, useLinkProvider, useUnlinkIdentity, type LinkedIdentity } from './api';

const HERE = '/settings/accounts';
const LAST_METHOD =
  'This is your only way to sign in, so it cannot be unlinked. Set a password below, or link another provider, first.';

function providerName(providers: Provider[] | undefined, id: string): string {
  return providers?.find((provider) => provider.id === id)?.name ?? id;
}

/** What the callback of a link flow left in the URL: `?linked=<provider>` or `?error=<code>`. */
function LinkOutcome({ providers }: { providers: Provider[] | undefined }) {
  const [params] = useSearchParams();
  const linked = params.get('linked');
  const error = params.get('error');
  if (error) {
    return (
      <p role="alert" className="error">
        {oidcErrorMessage(error)}
      </p>
    );
  }
  if (!linked) return null;
  return (
    <p role="status" className="notice">
      {providerName(providers, linked)} is linked: you can sign in with it now.
    </p>
  );
}

function IdentityRow({
  identity,
  name,
  onUnlink,
}: {
  identity: LinkedIdentity;
  name: string;
  onUnlink: () => void;
}) {
  return (
    <li className="card-row">
      <div>
        <strong>{name}</strong> <span className="muted">{identity.email ?? identity.subject}</span>
        <p className="muted small">Linked {new Date(identity.created_at).toLocaleDateString()}</p>
      </div>
      <button type="button" className="secondary" aria-label={`Unlink ${name}`} onClick={onUnlink}>
        Unlink
      </button>
    </li>
  );
}

export function LinkedAccounts() {
  const providers = useOidcProviders();
  const identities = useIdentities();
  const unlink = useUnlinkIdentity();
  const link = useLinkProvider();
  const [confirming, setConfirming] = useState<LinkedIdentity | null>(null);
  const items = identities.data?.items ?? [];
  const unlinked = (providers.data ?? []).filter((p) => !items.some((i) => i.provider === p.id));
  const nameOf = (id: string) => providerName(providers.data, id);

  return (
    <section aria-labelledby="accounts-title" className="stack">
      <h2 id="accounts-title">Linked accounts</h2>
      <p className="muted">Providers you can sign in with instead of a password.</p>
      <LinkOutcome providers={providers.data} />
      <ErrorMessage error={identities.error} />
      {isStatus(unlink.error, 409) ? (
        <p role="alert" className="error">
          {LAST_METHOD}
        </p>
      ) : (
        <ErrorMessage error={unlink.error} />
      )}
      {identities.isPending ? (
        <p role="status">Loading linked accounts…</p>
      ) : (
        <>
          {items.length === 0 && <p className="muted">No provider is linked to this account.</p>}
          <ul aria-label="Linked accounts" className="card-list">
            {items.map((identity) => (
              <IdentityRow
                key={identity.id}
                identity={identity}
                name={nameOf(identity.provider)}
                onUnlink={() => setConfirming(identity)}
              />
            ))}
          </ul>
        </>
      )}
      {identities.data && unlinked.length > 0 && (
        <div className="stack">
          <h3>{items.length ? 'Link another account' : 'Link an account'}</h3>
          <ErrorMessage error={link.error} />
          <div className="button-row">
            {unlinked.map((provider) => (
              <button
                key={provider.id}
                type="button"
                className="secondary"
                disabled={link.isPending}
                onClick={() =>
                  link.mutate({
                    provider: provider.id,
                    returnTo: `${HERE}?linked=${encodeURIComponent(provider.id)}`,
                  })
                }
              >
                Link {provider.name}
              </button>
            ))}
          </div>
        </div>
      )}
      <Confirm
        open={confirming !== null}
        onOpenChange={(open) => !open && setConfirming(null)}
        title={`Unlink ${confirming ? nameOf(confirming.provider) : ''}?`}
        description="You will no longer be able to sign in with it, unless you link it again."
        actions={[
          {
            label: 'Unlink',
            danger: true,
            onSelect: () => confirming && unlink.mutate(confirming.id),
          },
        ]}
      />
    </section>
  );
}
