import { render } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { Highlight, parseHighlight } from './Highlight';

const HOSTILE = '<img src=x onerror=alert(1)>';

describe('Highlight', () => {
  it('renders an escaped hostile title as text, with the match in <mark>', () => {
    const fromServer = '&lt;img src=x onerror=alert(1)&gt; <mark>groceries</mark>';
    const { container } = render(<Highlight html={fromServer} fallback="" />);
    expect(container.querySelector('img')).toBeNull();
    expect(container.querySelectorAll('mark')).toHaveLength(1);
    expect(container.querySelector('mark')?.textContent).toBe('groceries');
    expect(container.textContent).toBe(`${HOSTILE} groceries`);
  });

  it('never parses markup other than <mark>, even unescaped', () => {
    const { container } = render(
      <Highlight html={`${HOSTILE}<mark><script>alert(2)</script></mark>`} fallback="" />,
    );
    expect(container.querySelector('img, script')).toBeNull();
    expect(container.querySelector('mark')?.textContent).toBe('<script>alert(2)</script>');
  });

  it('shows the plain fallback when nothing matched', () => {
    const { container } = render(<Highlight html={undefined} fallback={HOSTILE} />);
    expect(container.querySelector('img')).toBeNull();
    expect(container.textContent).toBe(HOSTILE);
  });

  it('splits on the tags only', () => {
    expect(parseHighlight('a &amp; <mark>b</mark> c')).toEqual([
      { text: 'a & ', marked: false },
      { text: 'b', marked: true },
      { text: ' c', marked: false },
    ]);
  });
});
