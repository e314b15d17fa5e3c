import { expect, test } from '@playwright/test';
import { newAccount, registerByApi, shot, signIn, tokenFor } from './helpers';

const TOTAL = Number(process.env.E2E_SCALE_TASKS ?? 10_000);
const CONCURRENCY = 24;
const MAX_ROWS_IN_DOM = 100;

test(`${TOTAL} tasks scroll with a bounded DOM`, async ({ page, request }) => {
  test.setTimeout(120_000);
  const account = newAccount('scale');
  await registerByApi(request, account);
  const token = await tokenFor(request, account);
  let next = 0;
  const worker = async () => {
    while (next < TOTAL) {
      const n = (next += 1);
      const response = await request.post('/api/v1/tasks', {
        headers: { Authorization: `Bearer ${token}` },
        data: {
          title: `Bulk task ${String(n).padStart(5, '0')}`,
          description: '',
          status: 'todo',
          priority: 'medium',
        },
      });
      expect(response.status()).toBe(201);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));

  await signIn(page, account);
  const list = page.getByRole('list', { name: 'Tasks' });
  await expect(list.getByRole('listitem').first()).toBeVisible();
  await expect(page.getByRole('region', { name: 'Summary' })).toContainText(`Total${TOTAL}`);
  const scroller = page.locator('.task-scroller');
  let maxRows = 0;
  let lastPosition = 0;
  for (let step = 0; step < 400; step += 1) {
    await scroller.evaluate((el) => el.scrollBy(0, el.clientHeight * 3));
    await page.waitForTimeout(15);
    maxRows = Math.max(maxRows, await list.getByRole('listitem').count());
    const bottom = await scroller.evaluate(
      (el) => el.scrollTop + el.clientHeight >= el.scrollHeight - 2,
    );
    lastPosition = Number(await list.getByRole('listitem').last().getAttribute('aria-posinset'));
    if (bottom && lastPosition === TOTAL) break;
  }
  await shot(page, 'tasks-10k-bottom');
  // Every page was loaded by scrolling alone, and the list knows it has reached the end.
  expect(lastPosition).toBe(TOTAL);
  await expect(list.getByRole('listitem').last()).toHaveAttribute('aria-setsize', String(TOTAL));
  expect(maxRows).toBeGreaterThan(5);
  expect(maxRows).toBeLessThanOrEqual(MAX_ROWS_IN_DOM);
});
