import { afterEach, describe, expect, it, vi } from 'vitest';
import { authFetch } from './client';
import { ApiError, NetworkError, errorFromResponse } from './errors';
import { resetSessionForTests, session } from './session';

afterEach(() => {
  resetSessionForTests();
  vi.unstubAllGlobals();
});

describe('authFetch', () => {
  it('refreshes once on a 401 and retries with the new token', async () => {
    session.signedIn('expired');
    document.cookie = 'csrf_token=c1; path=/';
    const seen: string[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (input: RequestInfo | URL) => {
        if (!(input instanceof Request)) {
          expect(String(input)).toBe('/api/v1/auth/refresh');
          return Response.json({ access_token: 'fresh' });
        }
        const auth = input.headers.get('Authorization') ?? '';
        seen.push(auth);
        return new Response('{}', { status: auth === 'Bearer fresh' ? 200 : 401 });
      }),
    );
    const response = await authFetch(new Request('http://localhost/api/v1/tasks'));
    expect(response.status).toBe(200);
    expect(seen).toEqual(['Bearer expired', 'Bearer fresh']);
  });

  it('turns a failed connection into a NetworkError', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))),
    );
    await expect(authFetch(new Request('http://localhost/api/v1/tasks'))).rejects.toBeInstanceOf(
      NetworkError,
    );
  });
});

describe('problem+json', () => {
  it('keeps the fields and says when to retry after a 429', async () => {
    const response = new Response(JSON.stringify({ title: 'Too Many Requests', status: 429 }), {
      status: 429,
      headers: { 'Content-Type': 'application/problem+json', 'Retry-After': '7' },
    });
    const error = await errorFromResponse(response);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.retryAfter).toBe(7);
    expect(error.message).toBe('Too many requests. Try again in 7 seconds.');
  });

  it('names the fields of a 422', async () => {
    const body = { status: 422, errors: [{ loc: ['body', 'title'], msg: 'too long', type: 'x' }] };
    const error = await errorFromResponse(new Response(JSON.stringify(body), { status: 422 }));
    expect(error.message).toBe('Title: too long');
  });
});
