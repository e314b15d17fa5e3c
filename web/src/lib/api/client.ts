/**
 * The one fetch layer: every API call goes through `authFetch`, which adds the bearer token,
 * refreshes once on a 401 and retries, and turns a failed connection into a NetworkError.
 * `api` is openapi-fetch typed by the gateway's OpenAPI document (schema.d.ts is generated).
 */
import createClient from 'openapi-fetch';
import { ApiError, NetworkError, errorFromResponse } from './errors';
import type { paths } from './schema';
import { refreshAccessToken, session } from './session';

const NO_REFRESH = ['/api/v1/auth/login', '/api/v1/auth/register', '/api/v1/auth/refresh'];

function withToken(request: Request, token: string | null): Request {
  const copy = new Request(request);
  if (token) copy.headers.set('Authorization', `Bearer ${token}`);
  return copy;
}

async function send(request: Request): Promise<Response> {
  try {
    return await fetch(request);
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    throw new NetworkError(error);
  }
}

export async function authFetch(input: Request): Promise<Response> {
  const retry = input.clone();
  const token = session.getToken();
  const response = await send(withToken(input, token));
  const path = new URL(input.url).pathname;
  if (response.status !== 401 || NO_REFRESH.includes(path)) return response;
  const fresh = await refreshAccessToken(fetch, token);
  if (!fresh) return response;
  return send(withToken(retry, fresh));
}

export const api = createClient<paths>({
  baseUrl: typeof window === 'undefined' ? 'http://localhost' : window.location.origin,
  fetch: authFetch,
});

interface FetchResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The body of a successful call; an ApiError (problem+json fields typed) otherwise. */
export async function unwrap<T>(result: Promise<FetchResult<T>>): Promise<T> {
  const { data, error, response } = await result;
  if (!response.ok) throw await errorFromResponse(response, error);
  return data as T;
}

export function isStatus(error: unknown, status: number): error is ApiError {
  return error instanceof ApiError && error.status === status;
}
