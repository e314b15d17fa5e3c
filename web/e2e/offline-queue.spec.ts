import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { createByApi, newAccount, registerByApi, shot, signIn, tokenFor } from './helpers';

interface ServerTask {
  id: string;
  title: string;
  version: number;
}

async function serverTasks(request: APIRequestContext, token: string): Promise<ServerTask[]> {
  const response = await request.get('/api/v1/tasks?limit=100', {
    headers: { Authorization: `Bearer ${token}` },
  });
  expect(response.status()).toBe(200);
  return ((await response.json()) as { items: ServerTask[] }).items;
}

async function createInDialog(page: Page, title: string) {
  await page.getByRole('button', { name: 'New task' }).click();
  const dialog = page.getByRole('dialog', { name: 'New task' });
  await dialog.getByRole('textbox', { name: 'Title' }).fill(title);
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(dialog).toBeHidden();
}

// page.route sees no request a service worker answers: this test does without one.
test.use({ serviceWorkers: 'block' });

test('writes made offline are queued, shown pending, and reach the server exactly once', async ({
  page,
  context,
  request,
}) => {
  const account = newAccount('queue');
  await registerByApi(request, account);
  const token = await tokenFor(request, account);
  const existing = await createByApi(request, token, { title: 'Renew passport' });
  await signIn(page, account);
  const list = page.getByRole('list', { name: 'Tasks' });
  await expect(list).toContainText('Renew passport');

  await context.setOffline(true);
  await expect(page.getByRole('status').filter({ hasText: 'Offline' })).toBeVisible();
  await createInDialog(page, 'Buy stamps');
  await createInDialog(page, 'Post the letters');
  const row = (title: string) => list.getByRole('listitem').filter({ hasText: title });
  await row('Renew passport').getByRole('button', { name: 'Edit' }).click();
  const edit = page.getByRole('dialog', { name: 'Edit task' });
  await edit.getByRole('textbox', { name: 'Title' }).fill('Renew passport and ID card');
  await edit.getByRole('button', { name: 'Save' }).click();
  await expect(edit).toBeHidden();
  for (const title of ['Buy stamps', 'Post the letters', 'Renew passport and ID card']) {
    await expect(row(title)).toContainText('Pending');
  }
  await shot(page, 'offline-pending');
  expect((await serverTasks(request, token)).map((t) => t.title)).toEqual(['Renew passport']);

  // Meanwhile another device changes the task edited offline: that edit must not win silently.
  const patched = await request.patch(`/api/v1/tasks/${existing.id}`, {
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/merge-patch+json' },
    data: { description: 'changed on the phone' },
  });
  expect(patched.status()).toBe(200);

  // The first answer to each queued create is lost on its way back (the server did write):
  // the app sends it again with the same Idempotency-Key and gets the first answer replayed.
  const sends = new Map<string, number>();
  const replayed: string[] = [];
  await page.route('**/api/v1/tasks', async (route) => {
    if (route.request().method() !== 'POST') return route.fallback();
    const key = route.request().headers()['idempotency-key'] ?? '';
    sends.set(key, (sends.get(key) ?? 0) + 1);
    const response = await route.fetch();
    if (sends.get(key) === 1) return route.abort('connectionreset');
    replayed.push(response.headers()['idempotent-replayed'] ?? 'no');
    return route.fulfill({ response });
  });
  await context.setOffline(false);

  const conflict = page.getByRole('alertdialog', { name: 'This task changed' });
  await expect(conflict).toBeVisible({ timeout: 20_000 });
  await shot(page, 'offline-conflict');
  await conflict.getByRole('button', { name: 'Overwrite' }).click();
  await expect(list.getByText('Pending')).toHaveCount(0, { timeout: 20_000 });
  await expect(page.getByRole('status').filter({ hasText: 'Offline' })).toHaveCount(0);
  await shot(page, 'offline-synced');

  const titles = (await serverTasks(request, token)).map((t) => t.title).sort();
  expect(titles).toEqual(['Buy stamps', 'Post the letters', 'Renew passport and ID card']);
  expect([...sends.keys()].every((key) => key.length > 0)).toBe(true);
  expect([...sends.values()]).toEqual([2, 2]);
  expect(replayed).toEqual(['true', 'true']);
});
