import { useState, type FormEvent } from 'react';
import { Link, Navigate, useLocation, useNavigate, useSearchParams } from 'react-router';
import { ErrorMessage } from '../../components/ErrorMessage';
import { signIn } from './api';
import { AuthLayout } from './AuthLayout';
import { oidcErrorMessage } from './oidcErrors';
import { SocialSignIn } from './SocialSignIn';
import { useSessionStatus } from './useSessionStatus';

/** Where auth sends a failed link (it sends every failed callback to /signin?error=). */
const ACCOUNTS_PAGE = '/settings/accounts';

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
  const oidcError = params.get('error');
  const returnTo = returnPath(location.state);

  if (status === 'signed-in') {
    // Signed in before this form was used (`busy` is set while it signs in): the failed
    // callback was linking a provider, so the error is shown where linking began.
    const to =
      oidcError && !busy
        ? `${ACCOUNTS_PAGE}?${new URLSearchParams({ error: oidcError }).toString()}`
        : returnTo;
    return <Navigate to={to} replace />;
  }

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(null);
    try {
      await signIn(String(form.get('email')), String(form.get('password')));
      navigate(returnTo, { replace: true });
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
          {oidcErrorMessage(oidcError)}
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
      <SocialSignIn returnTo={returnTo} />
      <p className="muted">
        New here? <Link to="/register">Create account</Link>
      </p>
    </AuthLayout>
  );
}
