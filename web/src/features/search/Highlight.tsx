import { Fragment } from 'react';

const ENTITIES: Record<string, string> = {
  '&amp;': '&',
  '&lt;': '<',
  '&gt;': '>',
  '&quot;': '"',
  '&#x27;': "'",
  '&#39;': "'",
};

/** The server's escaping undone, to plain text that React escapes again when rendering. */
export function unescapeHtml(text: string): string {
  return text.replace(/&(?:amp|lt|gt|quot|#x27|#39);/g, (entity) => ENTITIES[entity] ?? entity);
}

export interface Segment {
  text: string;
  marked: boolean;
}

/**
 * The server sends HTML-escaped text where only `<mark>`/`</mark>` are markup. It is split on
 * exactly those two tags; everything else stays text, so nothing is ever parsed as HTML.
 */
export function parseHighlight(source: string): Segment[] {
  const segments: Segment[] = [];
  let marked = false;
  for (const part of source.split(/(<mark>|<\/mark>)/)) {
    if (part === '<mark>') marked = true;
    else if (part === '</mark>') marked = false;
    else if (part) segments.push({ text: unescapeHtml(part), marked });
  }
  return segments;
}

export function Highlight({
  html,
  fallback,
}: {
  html: string | undefined | null;
  fallback: string;
}) {
  if (!html) return <>{fallback}</>;
  return (
    <>
      {parseHighlight(html).map((segment, index) =>
        segment.marked ? (
          <mark key={index}>{segment.text}</mark>
        ) : (
          <Fragment key={index}>{segment.text}</Fragment>
        ),
      )}
    </>
  );
}
