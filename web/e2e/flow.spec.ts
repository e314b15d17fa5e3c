import { expect, test } from '@playwright/test';
import { createByApi, newAccount, shot, signIn, tokenFor } from './helpers';

test('register, sign in, create, filter, edit through a conflict, search by typo, delete', async ({
  page,
  request,
}) => {
  const account = newAccount('flow');
  await page.goto('/register');
  await page.getByRole('textbox', { name: 'Name' }).fill(account.name);
  await page.getByRole('textbox', { name: 'Email' }).fill(account.email);
  await page.getByLabel('Password').fill(account.password);
  await shot(page, 'register');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('heading', { name: 'Tasks' })).toBeVisible();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signin$/);
  await shot(page, 'signin');
  await signIn(page, account);

  await expect(page.getByText('No tasks yet.')).toBeVisible();
  for (const [title, priority, tags] of [
    ['Quarterly invoices', 'high', 'finance, work'],
    ['Water the plants', 'low', 'home'],
  ] as const) {
    await page.getByRole('button', { name: 'New task' }).click();
    const dialog = page.getByRole('dialog', { name: 'New task' });
    await dialog.getByRole('textbox', { name: 'Title' }).fill(title);
    await dialog.getByRole('textbox', { name: 'Description' }).fill(`About ${title.toLowerCase()}`);
    await dialog.getByRole('textbox', { name: 'Tags' }).fill(tags);
    await dialog.getByRole('combobox', { name: 'Priority' }).selectOption(priority);
    await dialog.getByRole('combobox', { name: 'Status' }).selectOption('in_progress');
    await dialog.getByLabel('Due date').fill('2030-01-15');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expect(dialog).toBeHidden();
  }
  const list = page.getByRole('list', { name: 'Tasks' });
  await expect(list.getByRole('listitem')).toHaveCount(2);
  await expect(page.getByRole('region', { name: 'Summary' })).toContainText('In progress2');
  await shot(page, 'tasks');

  const filters = page.getByRole('region', { name: 'Filters' });
  await filters.getByRole('combobox', { name: 'Priority' }).selectOption('high');
  await expect(list.getByRole('listitem')).toHaveCount(1);
  await expect(list.getByRole('listitem')).toContainText('Quarterly invoices');
  await filters.getByRole('combobox', { name: 'Priority' }).selectOption('');
  await expect(list.getByRole('listitem')).toHaveCount(2);

  // Edit while "another device" saves the same task first: 412, then overwrite.
  const row = list.getByRole('listitem').filter({ hasText: 'Water the plants' });
  await row.getByRole('button', { name: 'Edit' }).click();
  const edit = page.getByRole('dialog', { name: 'Edit task' });
  await edit.getByRole('textbox', { name: 'Title' }).fill('Water the plants twice');
  const other = await tokenFor(request, account);
  const tasks = await (
    await request.get('/api/v1/tasks', { headers: { Authorization: `Bearer ${other}` } })
  ).json();
  const target = tasks.items.find((t: { title: string }) => t.title === 'Water the plants');
  const patched = await request.patch(`/api/v1/tasks/${target.id}`, {
    headers: { Authorization: `Bearer ${other}`, 'Content-Type': 'application/merge-patch+json' },
    data: { description: 'changed elsewhere' },
  });
  expect(patched.status()).toBe(200);
  await edit.getByRole('button', { name: 'Save' }).click();
  const conflict = page.getByRole('alertdialog', { name: 'This task changed' });
  await expect(conflict).toBeVisible();
  await expect(conflict.getByRole('button', { name: 'Reload' })).toBeVisible();
  await shot(page, 'conflict');
  await conflict.getByRole('button', { name: 'Overwrite' }).click();
  await expect(edit).toBeHidden();
  await expect(list).toContainText('Water the plants twice');

  // A task written a moment ago is found by a misspelt word, results highlighted.
  await createByApi(request, other, { title: 'Schedule dentist appointment', priority: 'high' });
  const started = Date.now();
  await page.getByRole('searchbox', { name: 'Search tasks' }).fill('dentst');
  const results = page.getByRole('list', { name: 'Search results' });
  await expect(results.getByRole('listitem')).toContainText('Schedule dentist appointment', {
    timeout: 3_000,
  });
  expect(Date.now() - started).toBeLessThan(3_000);
  await expect(results.locator('mark').first()).toHaveText(/dentist/i);
  await shot(page, 'search');

  await page.getByRole('link', { name: 'Taskstream' }).click();
  const doomed = list.getByRole('listitem').filter({ hasText: 'Quarterly invoices' });
  await doomed.getByRole('button', { name: 'Delete' }).click();
  const confirm = page.getByRole('alertdialog');
  // The row goes at once (optimistic); the server's answer comes after it.
  const deleted = page.waitForResponse(
    (response) =>
      response.request().method() === 'DELETE' && response.url().includes('/api/v1/tasks/'),
  );
  await confirm.getByRole('button', { name: 'Delete' }).click();
  await expect(list.getByRole('listitem').filter({ hasText: 'Quarterly invoices' })).toHaveCount(0);
  expect((await deleted).status()).toBe(204);
  const after = await request.get('/api/v1/tasks', {
    headers: { Authorization: `Bearer ${other}` },
  });
  const titles = (await after.json()).items.map((t: { title: string }) => t.title);
  expect(titles).not.toContain('Quarterly invoices');
});

test('a hostile title is shown as text, never run', async ({ page, request }) => {
  const account = newAccount('hostile');
  await request.post('/api/v1/auth/register', { data: account });
  const token = await tokenFor(request, account);
  await createByApi(request, token, { title: '<img src=x onerror=alert(1)> groceries' });
  let dialogs = 0;
  page.on('dialog', (dialog) => {
    dialogs += 1;
    void dialog.dismiss();
  });
  await signIn(page, account);
  await expect(page.getByRole('list', { name: 'Tasks' })).toContainText(
    '<img src=x onerror=alert(1)>',
  );
  await page.getByRole('searchbox', { name: 'Search tasks' }).fill('groceries');
  const results = page.getByRole('list', { name: 'Search results' });
  await expect(results).toContainText('<img src=x onerror=alert(1)>');
  await expect(results.locator('img')).toHaveCount(0);
  expect(dialogs).toBe(0);
});
