import { expect, type APIRequestContext, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ARTIFACTS = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../.local/test-artifacts',
);
mkdirSync(ARTIFACTS, { recursive: true });

export interface Account {
  email: string;
  password: string;
  name: string;
}

export function newAccount(label: string): Account {
  const id = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  return {
    email: `${label}-${id}@example.test`,
    password: `Correct-horse-${id}-battery`,
    name: `Web ${label}`,
  };
}

export async function registerByApi(request: APIRequestContext, account: Account): Promise<void> {
  const response = await request.post('/api/v1/auth/register', { data: account });
  expect(response.status(), await response.text()).toBe(201);
}

/** A bearer token for API calls made "from another device". */
export async function tokenFor(request: APIRequestContext, account: Account): Promise<string> {
  const response = await request.post('/api/v1/auth/login', {
    data: { email: account.email, password: account.password },
  });
  expect(response.status()).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

export async function signIn(page: Page, account: Account): Promise<void> {
  await page.goto('/signin');
  await page.getByRole('textbox', { name: 'Email' }).fill(account.email);
  await page.getByLabel('Password').fill(account.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('searchbox', { name: 'Search tasks' })).toBeVisible();
}

export interface NewTask {
  title: string;
  description?: string;
  priority?: 'low' | 'medium' | 'high';
  status?: 'todo' | 'in_progress' | 'done';
  tags?: string[];
}

export async function createByApi(request: APIRequestContext, token: string, task: NewTask) {
  const response = await request.post('/api/v1/tasks', {
    headers: { Authorization: `Bearer ${token}` },
    data: { description: '', status: 'todo', priority: 'medium', ...task },
  });
  expect(response.status(), await response.text()).toBe(201);
  return (await response.json()) as { id: string; version: number };
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: false });
}
