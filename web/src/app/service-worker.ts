/** The service worker precaches the app shell (see vite.config.ts); API caches die on sign-out. */
export const API_CACHE = 'taskstream-api';

export function registerServiceWorker() {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return;
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => undefined);
  });
}

export async function clearApiCaches() {
  if (typeof caches === 'undefined') return;
  await caches.delete(API_CACHE);
}
