import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

/**
 * A fake auth server with the real rules that matter here: each refresh needs the current
 * refresh cookie and a matching CSRF header, rotates both, and a rotated-away token is refused.
 */
function fakeAuthServer() {
  let generation = 1;
  const presented: number[] = [];
  const reused: number[] = [];
  document.cookie = `csrf_token=csrf-${generation}; path=/`;
  const fetcher = vi.fn(async (_url: RequestInfo | URL, init?: RequestInit) => {
    const header = new Headers(init?.headers).get('X-CSRF-Token');
    const used = Number(header?.replace('csrf-', ''));
    presented.push(used);
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (used !== generation) {
      reused.push(used);
      return new Response('{}', { status: 401 });
    }
    generation += 1;
    document.cookie = `csrf_token=csrf-${generation}; path=/`;
    return Response.json({ access_token: `access-${generation}` });
  });
  return { fetcher: fetcher as unknown as typeof fetch, presented, reused, calls: fetcher };
}

/** navigator.locks as in a browser: one holder per name, shared by every tab (module copy). */
function installFakeLocks() {
  let tail: Promise<unknown> = Promise.resolve();
  const request = (_name: string, work: () => Promise<unknown>) => {
    const run = tail.then(work);
    tail = run.catch(() => undefined);
    return run;
  };
  Object.defineProperty(navigator, 'locks', { value: { request }, configurable: true });
}

async function freshTab() {
  vi.resetModules();
  return import('./session');
}

describe('refreshAccessToken', () => {
  beforeEach(() => installFakeLocks());
  afterEach(() => {
    Object.defineProperty(navigator, 'locks', { value: undefined, configurable: true });
  });

  it('sends one refresh for concurrent callers in one tab', async () => {
    const server = fakeAuthServer();
    const tab = await freshTab();
    const tokens = await Promise.all([
      tab.refreshAccessToken(server.fetcher),
      tab.refreshAccessToken(server.fetcher),
      tab.refreshAccessToken(server.fetcher),
    ]);
    expect(server.calls).toHaveBeenCalledTimes(1);
    expect(new Set(tokens)).toEqual(new Set(['access-2']));
    expect(tab.session.getStatus()).toBe('signed-in');
  });

  it('lets two tabs refresh at once without presenting the same token twice', async () => {
    const server = fakeAuthServer();
    const tabA = await freshTab();
    const tabB = await freshTab();
    const [a, b] = await Promise.all([
      tabA.refreshAccessToken(server.fetcher),
      tabB.refreshAccessToken(server.fetcher),
    ]);
    expect(a).toBeTruthy();
    expect(b).toBeTruthy();
    expect(a).not.toBe(b);
    expect(server.reused).toEqual([]);
    expect(server.presented).toEqual([1, 2]);
  });

  it('reuses a token another caller already refreshed instead of refreshing again', async () => {
    const server = fakeAuthServer();
    const tab = await freshTab();
    const first = await tab.refreshAccessToken(server.fetcher);
    const again = await tab.refreshAccessToken(server.fetcher, 'some-older-token');
    expect(again).toBe(first);
    expect(server.calls).toHaveBeenCalledTimes(1);
  });

  it('signs out when the refresh is refused', async () => {
    const tab = await freshTab();
    document.cookie = 'csrf_token=stale; path=/';
    const refused = vi.fn(async () => new Response('{}', { status: 401 }));
    expect(await tab.refreshAccessToken(refused as unknown as typeof fetch)).toBeNull();
    expect(tab.session.getStatus()).toBe('signed-out');
  });
});
