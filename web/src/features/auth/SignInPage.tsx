import { useState, type FormEvent } from 'react';
import { Link, Navigate, useLocation, useNavigate, useSearchParams } from 'react-router';
import { ErrorMessage } from '../../components/ErrorMessage';
import { signIn, useOidcProviders } from './api';
import { AuthLayout } from './AuthLayout';
import { useSessionStatus } from './useSessionStatus';

const OIDC_ERRORS: Record<string, string> = {
  account_exists:
    'An account with this email already exists. Sign in, then link the provider in Settings.',
};

function returnPath(state: unknown): string {
  const from = (state as { from?: unknown } | null)?.from;
  return typeof from === 'string' && from.startsWith('/') && !from.startsWith('//') ? from : '/';
}

export function Component() {
  const status = useSessionStatus();
  const navigate = useNavigate();
  const location = useLocation();
  const [params] = useSearchParams();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const providers = useOidcProviders();
  const oidcError = params.get('error');

  if (status === 'signed-in') return <Navigate to={returnPath(location.state)} replace />;

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(null);
    try {
      await signIn(String(form.get('email')), String(form.get('password')));
      navigate(returnPath(location.state), { replace: true });
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  return (
    <AuthLayout title="Sign in">
      {oidcError && (
        <p role="alert" className="error">
          {OIDC_ERRORS[oidcError] ?? 'Signing in with that provider did not work. Try again.'}
        </p>
      )}
      <form onSubmit={submit} className="stack">
        <label>
          Email
          <input name="email" type="email" autoComplete="email" required />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" required />
        </label>
        <ErrorMessage error={error} />
        <button type="submit" className="primary" disabled={busy}>
          Sign in
        </button>
      </form>
      {providers.data?.map((provider) => (
        <button
          key={provider.id}
          type="button"
          className="secondary wide"
          onClick={() =>
            window.location.assign(
              `/api/v1/auth/oidc/${encodeURIComponent(provider.id)}/authorize?return_to=/`,
            )
          }
        >
          Continue with {provider.name}
        </button>
      ))}
      <p className="muted">
        New here? <Link to="/register">Create account</Link>
      </p>
    </AuthLayout>
  );
}
