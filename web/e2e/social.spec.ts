import { expect, test, type Page } from '@playwright/test';
import { seriousViolations } from './axe';
import { newAccount, registerByApi, shot, signIn } from './helpers';

// The stack's real OpenID provider (mock-oauth2-server) is configured in auth as `google` and
// `github`; tests/integration/test_web.py says where it listens.
const PROVIDER_URL = process.env.OIDC_PROVIDER_URL ?? 'http://127.0.0.1:8070';
const PROVIDER_PATTERN = PROVIDER_URL.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// axe is injected as a script on the accounts page: the app's CSP refuses inline scripts.
test.use({ bypassCSP: true });

function subject(label: string): string {
  return `${label}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

/** The provider's own login form, filled in like a person: any subject, claims as JSON. */
async function signInAtProvider(page: Page, provider: string, sub: string, email: string) {
  await expect(page).toHaveURL(new RegExp(`^${PROVIDER_PATTERN}/${provider}/authorize\\?`));
  const asked = new URL(page.url()).searchParams;
  expect(asked.get('response_type')).toBe('code');
  expect(asked.get('code_challenge_method')).toBe('S256');
  await page.getByPlaceholder('Enter any user/subject').fill(sub);
  await page
    .getByPlaceholder(/Optional claims JSON/)
    .fill(JSON.stringify({ email, email_verified: true, name: `Social ${sub}` }));
}

async function submitAtProvider(page: Page) {
  await page.getByRole('button', { name: 'Sign-in' }).click();
}

async function unlink(page: Page, name: string) {
  await page.getByRole('button', { name: `Unlink ${name}` }).click();
  const confirm = page.getByRole('alertdialog', { name: `Unlink ${name}?` });
  await confirm.getByRole('button', { name: 'Unlink' }).click();
  await expect(confirm).toBeHidden();
}

test('continue with Google at the real provider, land on the tasks signed in, set a password, unlink', async ({
  page,
}) => {
  test.setTimeout(150_000);
  const sub = subject('google');
  const { email } = newAccount('social');

  await page.goto('/signin');
  await expect(page.getByRole('button', { name: 'Continue with GitHub' })).toBeVisible();
  await shot(page, 'social-1-signin');
  await page.getByRole('button', { name: 'Continue with Google' }).click();
  await signInAtProvider(page, 'google', sub, email);
  await shot(page, 'social-2-provider-form');
  await submitAtProvider(page);

  // The callback set the refresh cookie and redirected to return_to; the app refreshed into a session.
  await expect(page.getByRole('heading', { name: 'Tasks' })).toBeVisible();
  await expect(page).toHaveURL(/^[^?]*\/$/);
  await expect(page.getByRole('searchbox', { name: 'Search tasks' })).toBeVisible();
  await expect(page.getByText('No tasks yet.')).toBeVisible();
  expect(page.url()).not.toMatch(/code=|state=|token/);
  await shot(page, 'social-3-signed-in');
  await page.reload();
  await expect(page.getByRole('searchbox', { name: 'Search tasks' })).toBeVisible();

  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('link', { name: 'Linked accounts' }).click();
  const linked = page.getByRole('list', { name: 'Linked accounts' });
  await expect(linked.getByRole('listitem')).toHaveCount(1);
  await expect(linked.getByRole('listitem')).toContainText(['Google']);
  await expect(linked.getByRole('listitem')).toContainText([email]);
  await shot(page, 'social-4-accounts');
  expect(await seriousViolations(page)).toEqual([]);

  // The account was made by the provider: Google is its only way in, so unlinking is refused.
  await unlink(page, 'Google');
  await expect(page.getByRole('alert')).toContainText('This is your only way to sign in');
  await expect(linked.getByRole('listitem')).toHaveCount(1);
  await shot(page, 'social-5-last-method');
  expect(await seriousViolations(page)).toEqual([]);

  const password = `Social-${sub}-password`;
  await page.getByLabel('New password').fill(password);
  await page.getByRole('button', { name: 'Set password' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Password saved' })).toBeVisible();
  await unlink(page, 'Google');
  await expect(linked.getByRole('listitem')).toHaveCount(0);
  await expect(page.getByText('No provider is linked to this account.')).toBeVisible();
  await shot(page, 'social-6-unlinked');

  // The password set above signs the account in.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signin$/);
  await signIn(page, { email, password, name: '' });
});

test('an existing email is not linked silently; linking it from settings, then signing in with it', async ({
  page,
  request,
}) => {
  test.setTimeout(150_000);
  const account = newAccount('exists');
  await registerByApi(request, account);
  const sub = subject('github');

  await page.goto('/signin');
  await page.getByRole('button', { name: 'Continue with GitHub' }).click();
  await signInAtProvider(page, 'github', sub, account.email);
  await submitAtProvider(page);
  await expect(page).toHaveURL(/\/signin\?error=account_exists$/);
  await expect(page.getByRole('alert')).toContainText(
    'An account with this email already exists. Sign in with your password, then link',
  );
  await shot(page, 'social-7-account-exists');

  await signIn(page, account);
  await page.goto('/settings/accounts');
  await expect(page.getByText('No provider is linked to this account.')).toBeVisible();
  await page.getByRole('button', { name: 'Link GitHub', exact: true }).click();
  await signInAtProvider(page, 'github', sub, account.email);
  await submitAtProvider(page);
  await expect(page).toHaveURL(/\/settings\/accounts\?linked=github$/);
  await expect(page.getByRole('status').filter({ hasText: 'GitHub is linked' })).toBeVisible();
  const linked = page.getByRole('list', { name: 'Linked accounts' });
  await expect(linked.getByRole('listitem')).toContainText([account.email]);
  await expect(linked.getByRole('listitem')).toContainText(['GitHub']);
  await expect(page.getByRole('button', { name: 'Link GitHub', exact: true })).toHaveCount(0);
  await shot(page, 'social-8-linked');

  // Signed out, "Continue with GitHub" now signs in to this account, back where it was heading.
  await page.getByRole('button', { name: 'Sign out' }).click();
  // Navigating before the sign-out request has finished would cancel it.
  await expect(page).toHaveURL(/\/signin$/);
  await page.goto('/settings/accounts');
  await expect(page).toHaveURL(/\/signin$/);
  await page.getByRole('button', { name: 'Continue with GitHub' }).click();
  await signInAtProvider(page, 'github', sub, account.email);
  await submitAtProvider(page);
  await expect(page).toHaveURL(/\/settings\/accounts$/);
  await expect(linked.getByRole('listitem')).toContainText([account.email]);

  // The account has a password, so the provider can go.
  await unlink(page, 'GitHub');
  await expect(linked.getByRole('listitem')).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Link GitHub', exact: true })).toBeVisible();
});

test("linking another account's provider identity is refused and explained", async ({
  browser,
  page,
  request,
}) => {
  test.setTimeout(150_000);
  const sub = subject('taken');
  const other = await browser.newContext({ baseURL: test.info().project.use.baseURL });
  const stranger = await other.newPage();
  await stranger.goto('/signin');
  await stranger.getByRole('button', { name: 'Continue with Google' }).click();
  await signInAtProvider(stranger, 'google', sub, newAccount('stranger').email);
  await submitAtProvider(stranger);
  await expect(stranger.getByRole('heading', { name: 'Tasks' })).toBeVisible();
  await other.close();

  const account = newAccount('linker');
  await registerByApi(request, account);
  await signIn(page, account);
  await page.goto('/settings/accounts');
  await page.getByRole('button', { name: 'Link Google', exact: true }).click();
  await signInAtProvider(page, 'google', sub, account.email);
  await submitAtProvider(page);
  // Auth sends every failed callback to /signin?error=; signed in, the app shows it here.
  await expect(page).toHaveURL(/\/settings\/accounts\?error=identity_in_use$/);
  await expect(page.getByRole('alert')).toContainText(
    'already linked to another Taskstream account',
  );
  await expect(page.getByText('No provider is linked to this account.')).toBeVisible();
  await shot(page, 'social-9-identity-in-use');
});
