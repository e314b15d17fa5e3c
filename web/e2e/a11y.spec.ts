import { expect, test, type Page } from '@playwright/test';
import { seriousViolations } from './axe';
import { createByApi, newAccount, registerByApi, shot, signIn, tokenFor } from './helpers';

// axe is injected as a script: the app's CSP (rightly) refuses inline scripts.
test.use({ bypassCSP: true });

test('no serious or critical axe violations on any page', async ({ page, request }) => {
  test.setTimeout(60_000);
  const pages: { name: string; path: string; ready: (p: Page) => Promise<void> }[] = [];
  const found: Record<string, string[]> = {};

  for (const [name, path, text] of [
    ['a11y-signin', '/signin', 'Sign in'],
    ['a11y-register', '/register', 'Create account'],
  ] as const) {
    await page.goto(path);
    await expect(page.getByRole('button', { name: text })).toBeVisible();
    found[name] = await seriousViolations(page);
  }

  const account = newAccount('a11y');
  await registerByApi(request, account);
  const token = await tokenFor(request, account);
  const task = await createByApi(request, token, {
    title: 'Book flights to Lisbon',
    description: 'Window seat, morning flight',
    tags: ['travel'],
    priority: 'high',
  });
  await createByApi(request, token, { title: 'Renew passport', status: 'in_progress' });
  await signIn(page, account);

  pages.push(
    {
      name: 'tasks',
      path: '/',
      ready: (p) => expect(p.getByRole('list', { name: 'Tasks' })).toContainText('Renew passport'),
    },
    {
      name: 'task-detail',
      path: `/tasks/${task.id}`,
      ready: (p) =>
        expect(p.getByRole('heading', { name: 'Book flights to Lisbon' })).toBeVisible(),
    },
    {
      name: 'search-page',
      path: '/search?q=lisbon',
      ready: (p) => expect(p.getByRole('list', { name: 'Search results' })).toContainText('Lisbon'),
    },
    {
      name: 'settings-sessions',
      path: '/settings/sessions',
      ready: (p) =>
        expect(p.getByRole('list', { name: 'Sessions' }).getByRole('listitem')).not.toHaveCount(0),
    },
    {
      name: 'settings-api-keys',
      path: '/settings/api-keys',
      ready: (p) => expect(p.getByRole('button', { name: 'New API key' })).toBeVisible(),
    },
    {
      name: 'settings-accounts',
      path: '/settings/accounts',
      ready: (p) => expect(p.getByRole('heading', { name: 'Linked accounts' })).toBeVisible(),
    },
    {
      name: 'not-found',
      path: '/no/such/page',
      ready: (p) => expect(p.getByRole('heading', { name: 'Page not found' })).toBeVisible(),
    },
  );
  for (const entry of pages) {
    await page.goto(entry.path);
    await entry.ready(page);
    await shot(page, entry.name);
    found[entry.name] = await seriousViolations(page);
  }

  // The dialogs too: new task, and the API key shown once.
  await page.goto('/');
  await page.getByRole('button', { name: 'New task' }).click();
  await expect(page.getByRole('dialog', { name: 'New task' })).toBeVisible();
  await shot(page, 'new-task-dialog');
  found['new-task-dialog'] = await seriousViolations(page);

  await page.goto('/settings/api-keys');
  await page.getByRole('button', { name: 'New API key' }).click();
  const dialog = page.getByRole('dialog', { name: 'New API key' });
  await dialog.getByRole('textbox', { name: 'Name' }).fill('CI script');
  await expect(dialog.getByRole('checkbox', { name: 'tasks:read' })).toBeChecked();
  await dialog.getByRole('checkbox', { name: 'search:read' }).check();
  await dialog.getByRole('button', { name: 'Create' }).click();
  await expect(dialog.getByRole('textbox', { name: 'New key' })).not.toHaveValue('');
  await shot(page, 'api-key-created');
  found['api-key-created'] = await seriousViolations(page);

  const failures = Object.entries(found).filter(([, v]) => v.length > 0);
  expect(failures, JSON.stringify(failures, null, 2)).toEqual([]);
});
