import { expect, test, type APIRequestContext } from '@playwright/test';
import { newAccount, registerByApi, shot, signIn, tokenFor, type Account } from './helpers';

const TOTAL = Number(process.env.E2E_SCALE_TASKS ?? 10_000);
const CONCURRENCY = 24;
const MAX_ROWS_IN_DOM = 100;

/** For runs against a stack without database access (slow: one POST per task). */
async function fillByApi(request: APIRequestContext, account: Account) {
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
}

test(`${TOTAL} tasks scroll with a bounded DOM`, async ({ page, request }) => {
  test.setTimeout(180_000);
  // tests/integration/test_web.py stores the tasks straight into the database (quick).
  const given = process.env.E2E_SCALE_EMAIL;
  const account = given
    ? { email: given, password: process.env.E2E_SCALE_PASSWORD ?? '', name: 'scale' }
    : newAccount('scale');
  if (!given) await fillByApi(request, account);

  await signIn(page, account);
  const list = page.getByRole('list', { name: 'Tasks' });
  await expect(list.getByRole('listitem').first()).toBeVisible();
  await expect(page.getByRole('region', { name: 'Summary' })).toContainText(`Total${TOTAL}`);
  const scroller = page.locator('.task-scroller');
  let maxRows = 0;
  let lastPosition = 0;
  for (let step = 0; step < 600; step += 1) {
    const state = await scroller.evaluate((el) => {
      el.scrollBy(0, el.clientHeight * 3);
      const items = el.querySelectorAll('li');
      return {
        rows: items.length,
        last: Number(items[items.length - 1]?.getAttribute('aria-posinset') ?? 0),
        bottom: el.scrollTop + el.clientHeight >= el.scrollHeight - 2,
      };
    });
    maxRows = Math.max(maxRows, state.rows);
    lastPosition = state.last;
    if (state.bottom && lastPosition === TOTAL) break;
    await page.waitForTimeout(state.bottom ? 100 : 10);
  }
  await shot(page, 'tasks-10k-bottom');
  // Every page was loaded by scrolling alone, and the list knows it has reached the end.
  expect(lastPosition).toBe(TOTAL);
  await expect(list.getByRole('listitem').last()).toHaveAttribute('aria-setsize', String(TOTAL));
  expect(maxRows).toBeGreaterThan(5);
  expect(maxRows).toBeLessThanOrEqual(MAX_ROWS_IN_DOM);
});
