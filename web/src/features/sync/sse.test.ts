import { describe, expect, it } from 'vitest';
import { SseParser, backoffMs } from './sse';

describe('SseParser', () => {
  it('parses events split across chunks, with ids, comments and retry', () => {
    const parser = new SseParser();
    expect(parser.feed('retry: 2000\n\n: heartbeat\n\nevent: taskstream.task.upd')).toEqual([]);
    expect(parser.retryMs).toBe(2000);
    const out = parser.feed('ated\nid: 3.7\ndata: {"id":"t1",\ndata: "version":2}\n\n');
    expect(out).toEqual([
      { event: 'taskstream.task.updated', id: '3.7', data: '{"id":"t1",\n"version":2}' },
    ]);
    expect(parser.lastEventId).toBe('3.7');
  });

  it('treats CRLF split between chunks as one line end', () => {
    const parser = new SseParser();
    expect(parser.feed('event: reset\r')).toEqual([]);
    expect(parser.feed('\ndata: {}\r\n\r\n')).toEqual([{ event: 'reset', data: '{}', id: null }]);
  });

  it('keeps the last id for later events and ignores events without data', () => {
    const parser = new SseParser();
    const out = parser.feed('id: 9\nevent: x\n\nevent: y\ndata: 1\n\ndata: 2\n\n');
    expect(out).toEqual([
      { event: 'y', data: '1', id: '9' },
      { event: 'message', data: '2', id: '9' },
    ]);
  });
});

describe('backoffMs', () => {
  it('doubles from the base, with jitter in the upper half, capped at 30 s', () => {
    expect(backoffMs(0, 1000, () => 0)).toBe(500);
    expect(backoffMs(0, 1000, () => 1)).toBe(1000);
    expect(backoffMs(3, 1000, () => 1)).toBe(8000);
    expect(backoffMs(20, 1000, () => 1)).toBe(30000);
  });
});
