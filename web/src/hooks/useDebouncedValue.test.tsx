import { act, renderHook } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { useDebouncedValue } from './useDebouncedValue';

describe('useDebouncedValue', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('settles once on the last value after 150 ms of quiet', () => {
    const seen: string[] = [];
    const { rerender } = renderHook(
      ({ value }) => {
        const debounced = useDebouncedValue(value, 150);
        seen.push(debounced);
        return debounced;
      },
      { initialProps: { value: '' } },
    );
    for (const value of ['t', 'ty', 'typ', 'typo']) {
      rerender({ value });
      act(() => vi.advanceTimersByTime(100));
    }
    expect(new Set(seen)).toEqual(new Set(['']));
    act(() => vi.advanceTimersByTime(150));
    expect(seen.at(-1)).toBe('typo');
    expect(new Set(seen)).toEqual(new Set(['', 'typo']));
  });
});
