import { Link } from 'react-router';

export function Component() {
  return (
    <section className="page narrow" aria-labelledby="not-found-title">
      <h1 id="not-found-title">Page not found</h1>
      <p>There is nothing at this address.</p>
      <Link to="/">Back to your tasks</Link>
    </section>
  );
}
