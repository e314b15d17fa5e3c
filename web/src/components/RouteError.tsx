import { isRouteErrorResponse, useRouteError } from 'react-router';

export function RouteError() {
  const error = useRouteError();
  const message = isRouteErrorResponse(error)
    ? `${error.status} ${error.statusText}`
    : error instanceof Error
      ? error.message
      : 'Something went wrong.';
  return (
    <main className="center-page">
      <h1>Something went wrong</h1>
      <p role="alert">{message}</p>
      <a href="/">Back to your tasks</a>
    </main>
  );
}
