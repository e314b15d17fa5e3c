import { expect, test, type Page } from '@playwright/test';
import { newAccount, registerByApi, shot, signIn, tokenFor } from './helpers';

const MAX_ROWS_IN_DOM = 100;
// page.route sees no request that a service worker answers.
test.use({ serviceWorkers: 'block' });

/** Scrolls the task list to its end; returns the most rows the DOM ever held at once. */
async function scrollToEnd(page: Page, total: number): Promise<number> {
  const scroller = page.locator('.task-scroller');
  let maxRows = 0;
  let lastPosition = 0;
  for (let step = 0; step < 2_000 && lastPosition !== total; step += 1) {
    const state = await scroller.evaluate((el) => {
      el.scrollBy(0, el.clientHeight * 8);
      const items = el.querySelectorAll('li');
      return {
        rows: items.length,
        last: Number(items[items.length - 1]?.getAttribute('aria-posinset') ?? 0),
        bottom: el.scrollTop + el.clientHeight >= el.scrollHeight - 2,
      };
    });
    maxRows = Math.max(maxRows, state.rows);
    lastPosition = state.last;
    await page.waitForTimeout(state.bottom ? 50 : 5);
  }
  // Every page was loaded by scrolling alone, and the list knows it has reached the end.
  expect(lastPosition).toBe(total);
  const list = page.getByRole('list', { name: 'Tasks' });
  await expect(list.getByRole('listitem').last()).toHaveAttribute('aria-setsize', String(total));
  return maxRows;
}

test('tasks stored in the real stack scroll to the end with a bounded DOM', async ({ page }) => {
  // tests/integration/test_web.py stores them straight into the tasks collection.
  const email = process.env.E2E_SCALE_EMAIL;
  test.skip(!email, 'needs E2E_SCALE_EMAIL (set by tests/integration/test_web.py)');
  const total = Number(process.env.E2E_SCALE_TASKS);
  await signIn(page, {
    email: email ?? '',
    password: process.env.E2E_SCALE_PASSWORD ?? '',
    name: '',
  });
  await expect(page.getByRole('region', { name: 'Summary' })).toContainText(`Total${total}`);
  const maxRows = await scrollToEnd(page, total);
  expect(maxRows).toBeGreaterThan(5);
  expect(maxRows).toBeLessThanOrEqual(MAX_ROWS_IN_DOM);
});

test('10,000 tasks scroll with a bounded DOM', async ({ page, request }) => {
  test.setTimeout(120_000);
  // The list pages come from this test, in the API's keyset shape: on the shared test machine
  // FerretDB takes seconds per page at 10,000 tasks, which would measure the database, not the
  // list. Sign-in, summary and everything else are the real stack.
  const TOTAL = 10_000;
  const account = newAccount('scale10k');
  await registerByApi(request, account);
  await tokenFor(request, account);
  await page.route('**/api/v1/tasks?**', async (route) => {
    const url = new URL(route.request().url());
    const limit = Number(url.searchParams.get('limit') ?? 20);
    const start = Number(url.searchParams.get('cursor') ?? 0);
    const end = Math.min(start + limit, TOTAL);
    const items = Array.from({ length: end - start }, (_, i) => {
      const n = TOTAL - (start + i);
      const at = new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString();
      return {
        id: `task-${n}`,
        title: `Bulk task ${String(n).padStart(5, '0')}`,
        description: '',
        status: 'todo',
        priority: 'medium',
        tags: [],
        due_date: null,
        created_at: at,
        updated_at: at,
        version: 1,
      };
    });
    await route.fulfill({ json: { items, next_cursor: end < TOTAL ? String(end) : null } });
  });
  await signIn(page, account);
  await expect(page.getByRole('list', { name: 'Tasks' })).toContainText('Bulk task 10000');
  const maxRows = await scrollToEnd(page, TOTAL);
  await shot(page, 'tasks-10k-bottom');
  await expect(page.getByRole('list', { name: 'Tasks' })).toContainText('Bulk task 00001');
  expect(maxRows).toBeGreaterThan(5);
  expect(maxRows).toBeLessThanOrEqual(MAX_ROWS_IN_DOM);
});
