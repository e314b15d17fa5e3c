/**
 * What auth's `/signin?error=<code>` means, in plain words. The codes are listed in
 * services/auth/README.md ("Error codes"); the provider's own words are never passed on.
 */
const MESSAGES = new Map<string, string>(
  Object.entries({
    account_exists:
      'An account with this email already exists. Sign in with your password, then link the provider under Settings → Linked accounts.',
    identity_in_use: 'That provider account is already linked to another Taskstream account.',
    access_denied: 'Signing in was cancelled at the provider. Nothing was changed.',
    invalid_state:
      'That sign-in attempt expired or was already used (or began in another browser). Please try again.',
    invalid_request: 'The provider sent back an incomplete answer. Please try again.',
    provider_error: 'The provider reported an error. Please try again.',
    invalid_grant: 'The provider did not confirm the sign-in. Please try again.',
    invalid_token: 'The provider’s answer could not be verified, so nothing was signed in.',
    provider_unavailable: 'The provider is not answering right now. Try again in a moment.',
    temporarily_unavailable: 'Signing in is unavailable for a moment. Try again shortly.',
    email_missing:
      'The provider did not share an email address, and a new account needs one. Sign in another way.',
    email_unverified:
      'The provider has not verified your email address. Verify it there, or sign in another way.',
    try_again: 'Signing in was interrupted by another attempt. Please try again.',
    unknown_provider: 'That sign-in provider is not available.',
  }),
);

const FALLBACK = 'Signing in with that provider did not work. Please try again.';

export function oidcErrorMessage(code: string): string {
  // A Map, not an object: a code such as `constructor` must not find a prototype member.
  return MESSAGES.get(code) ?? FALLBACK;
}
