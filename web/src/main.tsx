import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/App';
import { registerServiceWorker } from './app/service-worker';
import { listenToOtherTabs, refreshAccessToken } from './lib/api/session';
import './index.css';

listenToOtherTabs();
// A reload keeps no token: the refresh cookie (if any) gets a new one before the first call.
refreshAccessToken().catch(() => undefined);
registerServiceWorker();

createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
