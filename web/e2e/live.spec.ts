import { expect, test } from '@playwright/test';
import { writeFileSync } from 'node:fs';
import {
  ARTIFACTS,
  createByApi,
  newAccount,
  registerByApi,
  shot,
  signIn,
  tokenFor,
} from './helpers';

declare global {
  interface Window {
    __seenAt?: number;
  }
}

test('an edit in one browser context appears in another within a second, without a refetch', async ({
  browser,
  request,
}) => {
  const account = newAccount('live');
  await registerByApi(request, account);
  await createByApi(request, await tokenFor(request, account), { title: 'Water the plants' });
  // Two devices of the same person: separate contexts, separate sessions.
  const [first, second] = await Promise.all([browser.newContext(), browser.newContext()]);
  const editor = await first.newPage();
  const watcher = await second.newPage();
  const streamOpen = watcher.waitForResponse(
    (r) => r.url().endsWith('/api/v1/events/stream') && r.status() === 200,
  );
  await signIn(editor, account);
  await signIn(watcher, account);
  const watched = watcher.getByRole('list', { name: 'Tasks' });
  await expect(watched).toContainText('Water the plants');
  await streamOpen;

  // The watcher notes the moment the new title is on its screen, and counts list fetches.
  await watcher.evaluate(() => {
    const observer = new MutationObserver(() => {
      if (document.body.textContent?.includes('Water the garden')) {
        window.__seenAt = Date.now();
        observer.disconnect();
      }
    });
    observer.observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  const listFetches: string[] = [];
  watcher.on('request', (r) => {
    const url = new URL(r.url());
    if (r.method() === 'GET' && url.pathname === '/api/v1/tasks') listFetches.push(r.url());
  });

  const row = editor.getByRole('list', { name: 'Tasks' }).getByRole('listitem');
  await row.filter({ hasText: 'Water the plants' }).getByRole('button', { name: 'Edit' }).click();
  const dialog = editor.getByRole('dialog', { name: 'Edit task' });
  await dialog.getByRole('textbox', { name: 'Title' }).fill('Water the garden');
  const saved = editor.waitForResponse(
    (r) => r.request().method() === 'PATCH' && r.url().includes('/api/v1/tasks/'),
  );
  const clickedAt = Date.now();
  await dialog.getByRole('button', { name: 'Save' }).click();
  expect((await saved).status()).toBe(200);
  const savedAt = Date.now();

  await expect(watched).toContainText('Water the garden', { timeout: 5_000 });
  const seenAt = await watcher.evaluate(() => window.__seenAt ?? 0);
  // From the editor's Save click (includes the PATCH) and from its answer reaching the test.
  const fromClickMs = seenAt - clickedAt;
  const fromAnswerMs = Math.max(0, seenAt - savedAt);
  console.log(
    `live update: shown in the other context ${fromClickMs} ms after Save, ${fromAnswerMs} ms after its answer`,
  );
  writeFileSync(
    `${ARTIFACTS}/live-latency.json`,
    JSON.stringify({ fromClickMs, fromAnswerMs, clickedAt, savedAt, seenAt }),
  );
  await shot(watcher, 'live-update');
  // Applied from the event itself: the other context fetched no list page for it.
  expect(listFetches).toEqual([]);
  await expect(watched.getByRole('listitem')).toHaveCount(1);

  // Editing while the other context saves first: the live event updates the list behind the
  // dialog, and the save still meets the 412 and the "This task changed" choice.
  await row.filter({ hasText: 'Water the garden' }).getByRole('button', { name: 'Edit' }).click();
  await dialog.getByRole('textbox', { name: 'Title' }).fill('Water the hedge');
  const watcherRow = watched.getByRole('listitem').filter({ hasText: 'Water the garden' });
  await watcherRow.getByRole('button', { name: 'Edit' }).click();
  const watcherDialog = watcher.getByRole('dialog', { name: 'Edit task' });
  await watcherDialog.getByRole('textbox', { name: 'Title' }).fill('Water the lawn');
  await watcherDialog.getByRole('button', { name: 'Save' }).click();
  await expect(watcherDialog).toBeHidden();
  await expect(editor.locator('ul[aria-label="Tasks"]')).toContainText('Water the lawn');
  await dialog.getByRole('button', { name: 'Save' }).click();
  const conflict = editor.getByRole('alertdialog', { name: 'This task changed' });
  await expect(conflict).toBeVisible();
  await conflict.getByRole('button', { name: 'Reload' }).click();
  await expect(dialog.getByRole('textbox', { name: 'Title' })).toHaveValue('Water the lawn');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toBeHidden();

  // A delete elsewhere disappears too, and the summary follows.
  await row.filter({ hasText: 'Water the lawn' }).getByRole('button', { name: 'Delete' }).click();
  await editor.getByRole('alertdialog').getByRole('button', { name: 'Delete' }).click();
  await expect(watched.getByRole('listitem')).toHaveCount(0, { timeout: 5_000 });
  await expect(watcher.getByRole('region', { name: 'Summary' })).toContainText('Total0');
  await Promise.all([first.close(), second.close()]);
});
