import { LinkedAccounts } from './LinkedAccounts';
import { PasswordForm } from './PasswordForm';

/** How this account signs in: linked providers, and its password. */
export function Component() {
  return (
    <div className="stack sections">
      <LinkedAccounts />
      <PasswordForm />
    </div>
  );
}
