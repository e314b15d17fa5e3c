import { session } from '../../lib/api/session';
import { outbox } from './outbox';

/** The `sub` claim of an access token (a JWT); null when it is not one. Not verified: the
 * server does that; this only tells whose queue a write belongs to. */
export function userIdOf(token: string | null): string | null {
  const payload = token?.split('.')[1];
  if (!payload) return null;
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const sub = (JSON.parse(json) as { sub?: unknown }).sub;
    return typeof sub === 'string' ? sub : null;
  } catch {
    return null;
  }
}

/** Whose writes are queued now: the signed-in user, or offline the last one signed in here. */
export function currentUserId(): string | null {
  return (
    userIdOf(session.getToken()) ?? (session.getStatus() === 'offline' ? outbox.getUser() : null)
  );
}

/** True when a write should go to the queue instead of the network. */
export function writesAreOffline(): boolean {
  return !navigator.onLine || session.getStatus() === 'offline';
}
