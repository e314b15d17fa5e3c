import { useOidcProviders } from '../auth/api';

export function Component() {
  const providers = useOidcProviders();
  return (
    <section aria-labelledby="accounts-title" className="stack">
      <h2 id="accounts-title">Linked accounts</h2>
      {providers.data?.length ? (
        <p className="muted">
          Sign-in providers available: {providers.data.map((p) => p.name).join(', ')}. Linking them
          to this account comes with social sign-in.
        </p>
      ) : (
        <p className="muted">No social sign-in providers are configured.</p>
      )}
    </section>
  );
}
