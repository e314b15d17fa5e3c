import { expect, test } from '@playwright/test';
import { createByApi, newAccount, registerByApi, signIn, tokenFor } from './helpers';

test('two tabs reloading at once both stay signed in', async ({ context, request }) => {
  const account = newAccount('tabs');
  await registerByApi(request, account);
  await createByApi(request, await tokenFor(request, account), { title: 'Shared task' });
  const first = await context.newPage();
  await signIn(first, account);
  const second = await context.newPage();
  await second.goto('/');
  await expect(second.getByRole('list', { name: 'Tasks' })).toContainText('Shared task');

  const refreshes: number[] = [];
  context.on('response', (r) => {
    if (r.url().endsWith('/api/v1/auth/refresh')) refreshes.push(r.status());
  });
  // Both tabs need a new access token at the same moment; each refresh rotates the cookie.
  for (let round = 0; round < 2; round += 1) {
    await Promise.all([first.reload(), second.reload()]);
    for (const page of [first, second]) {
      await expect(page.getByRole('list', { name: 'Tasks' })).toContainText('Shared task');
      await expect(page).toHaveURL(/\/$/);
    }
  }
  expect(refreshes.length).toBeGreaterThanOrEqual(4);
  expect(refreshes.every((status) => status === 200)).toBe(true);
});

test.describe('with page.route (which sees no request a service worker answers)', () => {
  test.use({ serviceWorkers: 'block' });
  test('an access token the gateway rejects mid-session is replaced without the user noticing', async ({
    page,
    request,
  }) => {
    const account = newAccount('expiry');
    await registerByApi(request, account);
    await signIn(page, account);
    // From here on, the token the page holds is answered 401 by the real gateway, as an expired
    // one would be (the check happens there, not here): the header is replaced on its way out.
    let rejected = 0;
    await page.route('**/api/v1/tasks**', async (route) => {
      const headers = route.request().headers();
      if (rejected === 0 && headers.authorization) {
        rejected += 1;
        await route.continue({
          headers: { ...headers, authorization: 'Bearer expired.token.value' },
        });
        return;
      }
      await route.continue();
    });
    const refreshed = page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/refresh'));
    await page.getByRole('button', { name: 'New task' }).click();
    const dialog = page.getByRole('dialog', { name: 'New task' });
    await dialog.getByRole('textbox', { name: 'Title' }).fill('Written after expiry');
    await dialog.getByRole('button', { name: 'Save' }).click();
    expect((await refreshed).status()).toBe(200);
    expect(rejected).toBe(1);
    const list = page.getByRole('list', { name: 'Tasks' });
    await expect(list).toContainText('Written after expiry');
    await expect(page.getByRole('alert')).toHaveCount(0);
    await expect(page).toHaveURL(/\/$/);
  });
});

test('signing out in one tab signs out the other', async ({ context, request }) => {
  const account = newAccount('signout');
  await registerByApi(request, account);
  const first = await context.newPage();
  await signIn(first, account);
  const second = await context.newPage();
  await second.goto('/settings/sessions');
  await expect(second.getByRole('list', { name: 'Sessions' })).toBeVisible();
  await first.getByRole('button', { name: 'Sign out' }).click();
  await expect(first).toHaveURL(/\/signin$/);
  await expect(second).toHaveURL(/\/signin$/);
  await expect(second.getByRole('button', { name: 'Sign in' })).toBeVisible();
  // And the session is over on the server: a reload stays signed out.
  await second.reload();
  await expect(second.getByRole('button', { name: 'Sign in' })).toBeVisible();
});
