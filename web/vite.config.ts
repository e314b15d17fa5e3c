/// <reference types="vitest/config" />
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';

// Paths the gateway answers itself: the service worker never serves the app shell for them.
const NOT_APP = [/^\/api\//, /^\/docs/, /^\/\.well-known\//, /^\/ofrep\//, /^\/health/, /^\/ready/];

export default defineConfig({
  plugins: [
    react(),
    VitePWA({
      injectRegister: false, // registered from src/app/service-worker.ts (no inline script)
      registerType: 'autoUpdate',
      filename: 'sw.js',
      manifestFilename: 'manifest.webmanifest',
      includeAssets: ['icon.svg'],
      manifest: {
        name: 'Taskstream',
        short_name: 'Taskstream',
        description: 'Your tasks, searchable, everywhere.',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        background_color: '#f7f7fb',
        theme_color: '#3b3bb3',
        icons: [
          { src: '/icon-192.png', sizes: '192x192', type: 'image/png' },
          { src: '/icon-512.png', sizes: '512x512', type: 'image/png' },
          { src: '/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
      workbox: {
        globPatterns: ['**/*.{js,css,html,svg,png,webmanifest}'],
        navigateFallback: '/index.html',
        navigateFallbackDenylist: NOT_APP,
        cleanupOutdatedCaches: true,
        clientsClaim: true,
        skipWaiting: true,
        runtimeCaching: [
          {
            // The last task list and summary, for opening the app offline (read-only).
            // Cleared on sign-out, so no user ever sees another's cached tasks.
            urlPattern: ({ url, request }) =>
              request.method === 'GET' && url.pathname.startsWith('/api/v1/tasks'),
            handler: 'NetworkFirst',
            options: {
              cacheName: 'taskstream-api',
              networkTimeoutSeconds: 5,
              cacheableResponse: { statuses: [200] },
              matchOptions: { ignoreVary: true },
              expiration: { maxEntries: 50 },
            },
          },
        ],
      },
    }),
  ],
  build: { target: 'es2022', sourcemap: false },
  server: { proxy: { '/api': 'http://127.0.0.1:8000', '/.well-known': 'http://127.0.0.1:8000' } },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
  },
});
