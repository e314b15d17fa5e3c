import { useState, type FormEvent } from 'react';
import { ErrorMessage } from '../../components/ErrorMessage';
import { useSetPassword } from './api';

/**
 * Set a first password (an account made by a provider has none) or change it. Auth does not
 * say whether the account has one, so "Current password" is optional here and auth decides.
 */
export function PasswordForm() {
  const setPassword = useSetPassword();
  const [saved, setSaved] = useState(false);

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    const current = String(form.get('current_password') ?? '');
    setSaved(false);
    setPassword.mutate(
      {
        new_password: String(form.get('new_password')),
        ...(current ? { current_password: current } : {}),
      },
      {
        onSuccess: () => {
          formElement.reset();
          setSaved(true);
        },
      },
    );
  }

  return (
    <section aria-labelledby="password-title" className="stack">
      <h2 id="password-title">Password</h2>
      <p className="muted">
        An account made with a provider has no password until you set one here. Setting or changing
        it signs out your other sessions.
      </p>
      <form onSubmit={submit} className="stack narrow">
        <label>
          Current password
          <input
            name="current_password"
            type="password"
            autoComplete="current-password"
            aria-describedby="current-password-hint"
          />
        </label>
        <p id="current-password-hint" className="muted small">
          Leave empty if the account has no password yet.
        </p>
        <label>
          New password
          <input
            name="new_password"
            type="password"
            autoComplete="new-password"
            minLength={8}
            maxLength={128}
            required
          />
        </label>
        <ErrorMessage error={setPassword.error} />
        {saved && (
          <p role="status" className="notice">
            Password saved. Your other sessions were signed out.
          </p>
        )}
        <div>
          <button type="submit" className="primary" disabled={setPassword.isPending}>
            Set password
          </button>
        </div>
      </form>
    </section>
  );
}
