/**
 * Server-Sent Events over fetch(): EventSource cannot send the bearer token, so the stream is
 * read from `response.body` and parsed here (the WHATWG event-stream format). The loop
 * reconnects with `Last-Event-ID` and a growing, jittered pause; a 401 gets a fresh token
 * through the session layer first; a stream that ends (the token expired) reconnects at once.
 */
import { refreshAccessToken, session } from '../../lib/api/session';

export interface SseMessage {
  event: string;
  data: string;
  id: string | null;
}

/** Incremental parser: feed text chunks, get the complete messages they finish. */
export class SseParser {
  lastEventId: string | null = null;
  retryMs: number | null = null;
  private buffer = '';
  private event = '';
  private data: string[] = [];

  feed(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const out: SseMessage[] = [];
    // A lone trailing \r may be the first half of \r\n: keep it for the next chunk.
    const lines = this.buffer.split(/\r\n|\r(?!$)|\n/);
    this.buffer = lines.pop() ?? '';
    for (const line of lines) {
      const message = this.line(line);
      if (message) out.push(message);
    }
    return out;
  }

  private line(line: string): SseMessage | null {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return null; // a comment: heartbeats
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.lastEventId = value || null;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
    return null;
  }

  private dispatch(): SseMessage | null {
    const message: SseMessage | null = this.data.length
      ? { event: this.event || 'message', data: this.data.join('\n'), id: this.lastEventId }
      : null;
    this.event = '';
    this.data = [];
    return message;
  }
}

export const STREAM_URL = '/api/v1/events/stream';
const MAX_BACKOFF_MS = 30_000;
const SHORT_LIVED_MS = 5_000;

/** The pause before reconnect attempt `attempt` (0-based): doubling, capped, with jitter. */
export function backoffMs(attempt: number, baseMs: number, random: () => number = Math.random) {
  const ceiling = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export interface LiveStreamOptions {
  onMessage: (message: SseMessage) => void;
  /** Called when a connection opens; `resumed` is false when events may have been missed. */
  onOpen?: (info: { resumed: boolean; reconnect: boolean }) => void;
  fetcher?: typeof fetch;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      window.clearTimeout(timer);
      window.removeEventListener('online', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = window.setTimeout(done, ms);
    // The network coming back (or the stop) cuts the pause short.
    window.addEventListener('online', done);
    signal.addEventListener('abort', done);
  });
}

/** Opens the stream and keeps it open until the returned function is called. */
export function openLiveStream(options: LiveStreamOptions): () => void {
  const controller = new AbortController();
  void run(options, controller.signal);
  return () => controller.abort();
}

async function run({ onMessage, onOpen, fetcher = fetch }: LiveStreamOptions, signal: AbortSignal) {
  const parser = new SseParser();
  let failures = 0;
  let connections = 0;
  while (!signal.aborted) {
    let token = session.getToken();
    if (!navigator.onLine || !token) {
      if (!token && session.getStatus() === 'signed-in') token = await refreshQuietly(null);
      if (!navigator.onLine || !token) {
        await sleep(backoffMs(failures++, parser.retryMs ?? 1_000), signal);
        continue;
      }
    }
    try {
      const headers: Record<string, string> = {
        Authorization: `Bearer ${token}`,
        Accept: 'text/event-stream',
      };
      if (parser.lastEventId) headers['Last-Event-ID'] = parser.lastEventId;
      const response = await fetcher(STREAM_URL, { headers, signal, cache: 'no-store' });
      if (response.status === 401) {
        await response.body?.cancel();
        if (!(await refreshQuietly(token))) {
          if (session.getStatus() === 'signed-out') return;
          await sleep(backoffMs(failures++, 1_000), signal);
        }
        continue;
      }
      if (!response.ok || !response.body) {
        await response.body?.cancel();
        await sleep(backoffMs(failures++, parser.retryMs ?? 1_000), signal);
        continue;
      }
      onOpen?.({ resumed: parser.lastEventId !== null, reconnect: connections > 0 });
      connections += 1;
      const openedAt = Date.now();
      await read(response.body, parser, onMessage, signal);
      // The server ended it (the token expired): reconnect at once, with a fresh token; a
      // stream that keeps ending at once is retried with the growing pause instead.
      if (Date.now() - openedAt < SHORT_LIVED_MS) {
        await sleep(backoffMs(failures++, parser.retryMs ?? 1_000), signal);
      } else {
        failures = 0;
      }
    } catch {
      if (signal.aborted) return;
      await sleep(backoffMs(failures++, parser.retryMs ?? 1_000), signal);
    }
  }
}

async function refreshQuietly(stale: string | null): Promise<string | null> {
  try {
    return await refreshAccessToken(fetch, stale);
  } catch {
    return null; // offline: the loop waits and tries again
  }
}

async function read(
  body: ReadableStream<Uint8Array>,
  parser: SseParser,
  onMessage: (message: SseMessage) => void,
  signal: AbortSignal,
) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const stop = () => void reader.cancel().catch(() => undefined);
  signal.addEventListener('abort', stop);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      parser.feed(decoder.decode(value, { stream: true })).forEach(onMessage);
    }
  } finally {
    signal.removeEventListener('abort', stop);
  }
}
