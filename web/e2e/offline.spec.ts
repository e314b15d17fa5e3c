import { expect, test } from '@playwright/test';
import { createByApi, newAccount, registerByApi, shot, signIn, tokenFor } from './helpers';

test('offline reload shows the last task list, queues a new task across reloads, and syncs it', async ({
  page,
  context,
  request,
}) => {
  const account = newAccount('offline');
  await registerByApi(request, account);
  const token = await tokenFor(request, account);
  await createByApi(request, token, { title: 'Pack the tent' });
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
  await page.getByRole('button', { name: 'New task' }).click();
  const dialog = page.getByRole('dialog', { name: 'New task' });
  await dialog.getByRole('textbox', { name: 'Title' }).fill('Buy matches');
  await dialog.getByRole('button', { name: 'Save' }).click();
  const queued = list.getByRole('listitem').filter({ hasText: 'Buy matches' });
  await expect(queued).toContainText('Pending');
  await shot(page, 'offline');
  // The queue is in IndexedDB: a reload without network still shows it.
  await page.reload();
  await expect(queued).toContainText('Pending');

  await context.setOffline(false);
  await expect(page.getByRole('status').filter({ hasText: 'Offline' })).toHaveCount(0, {
    timeout: 10_000,
  });
  await expect(list.getByText('Pending')).toHaveCount(0, { timeout: 15_000 });
  await expect(list).toContainText('Buy matches');
  const response = await request.get('/api/v1/tasks', {
    headers: { Authorization: `Bearer ${token}` },
  });
  const titles = ((await response.json()) as { items: { title: string }[] }).items.map(
    (t) => t.title,
  );
  expect(titles.filter((t) => t === 'Buy matches')).toHaveLength(1);
});

test('signing out clears the cached task list', async ({ page, request }) => {
  const account = newAccount('offline-clear');
  await registerByApi(request, account);
  const token = await tokenFor(request, account);
  await createByApi(request, token, { title: 'Private note' });
  await signIn(page, account);
  await expect(page.getByRole('list', { name: 'Tasks' })).toContainText('Private note');
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.reload();
  await expect(page.getByRole('list', { name: 'Tasks' })).toContainText('Private note');
  // A write queued offline, then sign-out (still offline): the queue goes with the session.
  await page.context().setOffline(true);
  await page.getByRole('button', { name: 'New task' }).click();
  const dialog = page.getByRole('dialog', { name: 'New task' });
  await dialog.getByRole('textbox', { name: 'Title' }).fill('Never sent');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('list', { name: 'Tasks' })).toContainText('Pending');
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
  const queued = await page.evaluate(
    () =>
      new Promise<number>((resolve, reject) => {
        const open = indexedDB.open('taskstream-outbox');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          if (!db.objectStoreNames.contains('writes')) return resolve(0);
          const count = db.transaction('writes').objectStore('writes').count();
          count.onsuccess = () => resolve(count.result);
          count.onerror = () => reject(count.error);
        };
      }),
  );
  expect(queued).toBe(0);
  await page.context().setOffline(false);
  await page.waitForTimeout(2_000);
  const response = await request.get('/api/v1/tasks', {
    headers: { Authorization: `Bearer ${token}` },
  });
  const titles = ((await response.json()) as { items: { title: string }[] }).items.map(
    (t) => t.title,
  );
  expect(titles).toEqual(['Private note']);
});
