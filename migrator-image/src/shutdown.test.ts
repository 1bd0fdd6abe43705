import {
  DEADLINE_MARGIN_SECONDS,
  installSignalHandlers,
  stopAfterMs,
  terminatedBy,
  terminationError,
} from './shutdown.js';

describe('stopAfterMs: the stop before the step deadline', () => {
  it('stops the margin before the deadline, counted from the process start', () => {
    // Started 2 s ago, deadline 60 s, grace 8 s: stop at 60 - 10 = 50 s after start, 48 s from now.
    expect(stopAfterMs(60, 8, 1000, 3000)).toEqual({ stopAfterMs: 48_000 });
    expect(DEADLINE_MARGIN_SECONDS).toBe(10);
  });

  it('keeps at least the grace period plus 2 s before the deadline', () => {
    expect(stopAfterMs(100, 30, 0, 0)).toEqual({ stopAfterMs: 68_000 });
  });

  it('a short deadline stops at its half, never at once; none without a deadline', () => {
    expect(stopAfterMs(12, 8, 0, 0)).toEqual({ stopAfterMs: 6_000 });
    expect(stopAfterMs(undefined, 8, 0, 0)).toEqual({});
    // Already past the stop: at once.
    expect(stopAfterMs(12, 8, 0, 20_000)).toEqual({ stopAfterMs: 0 });
  });
});

describe('installSignalHandlers with a step deadline', () => {
  it('cancels our statements when the stop comes, and names the deadline in the error', async () => {
    const kills: string[] = [];
    const logs: string[] = [];
    const h = installSignalHandlers({
      killBackends: async (how) => {
        kills.push(how);
      },
      onDeadline: () => undefined,
      graceMs: 60_000,
      stopAfterMs: 20,
      log: (msg) => logs.push(msg),
    });
    // Polled, not slept: a busy machine may fire the timer late.
    for (let i = 0; i < 100 && kills.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    h.done();
    expect(terminatedBy()).toBe('deadline');
    expect(kills[0]).toBe('cancel');
    expect(logs[0]).toMatch(/step deadline is near/);
    expect(terminationError('M1').message).toBe(
      'stopped before the step deadline (STEP_DEADLINE_SECONDS) during M1',
    );
  });
});
