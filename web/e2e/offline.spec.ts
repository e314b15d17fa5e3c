import { expect, test } from '@playwright/test';
import { createByApi, newAccount, registerByApi, shot, signIn, tokenFor } from './helpers';

test('offline reload shows the last task list read-only, and recovers by itself', async ({
  page,
  context,
  request,
}) => {
  const account = newAccount('offline');
  await registerByApi(request, account);
  await createByApi(request, await tokenFor(request, account), { title: 'Pack the tent' });
  await signIn(page, account);
  const list = page.getByRole('list', { name: 'Tasks' });
  await expect(list).toContainText('Pack the tent');
  // The service worker takes over this page, then sees one list fetch to keep for offline use.
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((resolve) =>
        navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }),
      );
    }
  });
  await page.reload();
  await expect(list).toContainText('Pack the tent');

  await context.setOffline(true);
  await page.reload();
  await expect(page.getByRole('status').filter({ hasText: 'Offline' })).toBeVisible();
  await expect(list).toContainText('Pack the tent');
  await expect(page.getByRole('button', { name: 'New task' })).toBeDisabled();
  await shot(page, 'offline');

  await context.setOffline(false);
  await expect(page.getByRole('status').filter({ hasText: 'Offline' })).toHaveCount(0, {
    timeout: 10_000,
  });
  await expect(page.getByRole('button', { name: 'New task' })).toBeEnabled();
});

test('signing out clears the cached task list', async ({ page, request }) => {
  const account = newAccount('offline-clear');
  await registerByApi(request, account);
  await createByApi(request, await tokenFor(request, account), { title: 'Private note' });
  await signIn(page, account);
  await expect(page.getByRole('list', { name: 'Tasks' })).toContainText('Private note');
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.reload();
  await expect(page.getByRole('list', { name: 'Tasks' })).toContainText('Private note');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signin$/);
  const cached = await page.evaluate(async () => {
    const names = await caches.keys();
    let count = 0;
    for (const name of names.filter((n) => n.includes('api'))) {
      count += (await (await caches.open(name)).keys()).length;
    }
    return count;
  });
  expect(cached).toBe(0);
});
