import { continueWithProvider, useOidcProviders } from './api';

/** One "Continue with <name>" button per provider auth offers; nothing when it offers none. */
export function SocialSignIn({ returnTo }: { returnTo: string }) {
  const providers = useOidcProviders();
  if (!providers.data?.length) return null;
  return (
    <div className="stack social">
      <p className="divider" aria-hidden="true">
        or
      </p>
      {providers.data.map((provider) => (
        <button
          key={provider.id}
          type="button"
          className="secondary"
          onClick={() => continueWithProvider(provider.id, returnTo)}
        >
          Continue with {provider.name}
        </button>
      ))}
    </div>
  );
}
