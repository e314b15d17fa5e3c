import type { ReactNode } from 'react';

export function AuthLayout({ title, children }: { title: string; children: ReactNode }) {
  return (
    <main className="auth-page">
      <div className="auth-card">
        <p className="brand" aria-hidden="true">
          <img src="/icon.svg" alt="" width="32" height="32" /> Taskstream
        </p>
        <h1>{title}</h1>
        {children}
      </div>
    </main>
  );
}
