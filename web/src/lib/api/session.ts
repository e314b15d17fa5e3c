/**
 * The signed-in session: the access token lives in this module's memory only.
 *
 * Refresh goes through the HttpOnly refresh cookie plus the X-CSRF-Token header. It is
 * single-flight twice over: one request per tab at a time (a shared promise) and one tab at a
 * time (a Web Lock), so two tabs never present the same refresh token; the second tab, once it
 * holds the lock, reads the cookie its predecessor just rotated. A sign-out is broadcast so every
 * tab drops its token.
 */

export type SessionStatus = 'unknown' | 'signed-in' | 'signed-out' | 'offline';

interface SessionState {
  status: SessionStatus;
  token: string | null;
}

const REFRESH_URL = '/api/v1/auth/refresh';
const LOCK_NAME = 'taskstream-refresh';
const CHANNEL_NAME = 'taskstream-session';

let state: SessionState = { status: 'unknown', token: null };
let inflight: Promise<string | null> | null = null;
const listeners = new Set<() => void>();
const signOutHandlers = new Set<() => void>();
let channel: BroadcastChannel | null = null;

function setState(next: SessionState) {
  state = next;
  listeners.forEach((listener) => listener());
}

export const session = {
  subscribe(listener: () => void) {
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  },
  getStatus: (): SessionStatus => state.status,
  getToken: (): string | null => state.token,
  signedIn(token: string) {
    setState({ status: 'signed-in', token });
  },
  /** Another part of the app (or tab) ended the session: forget the token, tell listeners. */
  signedOut({ broadcast }: { broadcast: boolean }) {
    setState({ status: 'signed-out', token: null });
    signOutHandlers.forEach((handler) => handler());
    if (broadcast) getChannel()?.postMessage({ type: 'signed-out' });
  },
  onSignOut(handler: () => void) {
    signOutHandlers.add(handler);
    return () => {
      signOutHandlers.delete(handler);
    };
  },
  offline() {
    if (state.status !== 'signed-in') setState({ status: 'offline', token: null });
  },
};

function getChannel(): BroadcastChannel | null {
  if (channel || typeof BroadcastChannel === 'undefined') return channel;
  channel = new BroadcastChannel(CHANNEL_NAME);
  channel.onmessage = (event: MessageEvent<{ type?: string }>) => {
    if (event.data?.type === 'signed-out' && state.status !== 'signed-out') {
      session.signedOut({ broadcast: false });
    }
  };
  return channel;
}

export function listenToOtherTabs() {
  getChannel();
}

export function readCookie(name: string): string | null {
  for (const part of document.cookie.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return null;
}

async function withRefreshLock<T>(work: () => Promise<T>): Promise<T> {
  if (typeof navigator !== 'undefined' && navigator.locks) {
    return navigator.locks.request(LOCK_NAME, work);
  }
  return work();
}

/** One refresh exchange; null when the session is over. Throws NetworkError-ish TypeErrors. */
async function exchangeRefreshCookie(fetcher: typeof fetch): Promise<string | null> {
  const csrf = readCookie('csrf_token');
  if (!csrf) return null;
  const response = await fetcher(REFRESH_URL, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'X-CSRF-Token': csrf },
  });
  if (!response.ok) return null;
  const body = (await response.json()) as { access_token: string };
  return body.access_token;
}

/**
 * A fresh access token, or null when the session ended. Concurrent callers share one refresh.
 * `stale` is the token the caller saw rejected: if another caller already replaced it, that
 * newer token is returned without another exchange.
 */
export function refreshAccessToken(
  fetcher: typeof fetch = fetch,
  stale: string | null = null,
): Promise<string | null> {
  if (state.token && state.token !== stale) return Promise.resolve(state.token);
  inflight ??= withRefreshLock(() => exchangeRefreshCookie(fetcher))
    .then(
      (token) => {
        if (token) session.signedIn(token);
        else if (state.status !== 'signed-out') session.signedOut({ broadcast: false });
        return token;
      },
      (error: unknown) => {
        session.offline();
        throw error;
      },
    )
    .finally(() => {
      inflight = null;
    });
  return inflight;
}

/** For tests: back to a fresh page's state. */
export function resetSessionForTests() {
  state = { status: 'unknown', token: null };
  inflight = null;
  listeners.clear();
  signOutHandlers.clear();
}
