import { SfnError } from '../../local/sfn-error';
import { newTaskToken, TaskTokens } from '../../local/task-tokens';
import { VirtualTimers } from '../helpers/virtual-timers';

const codeOf = (f: () => void): string | undefined => {
  try {
    f();
    return undefined;
  } catch (err) {
    return err instanceof SfnError ? err.name : `not an SfnError: ${String(err)}`;
  }
};

describe('task tokens, as Step Functions answers SendTask*', () => {
  it('completes a waiting attempt once; then its token is stale (TaskTimedOut), an unknown well-formed one TaskDoesNotExist, a malformed one InvalidToken', async () => {
    const tokens = new TaskTokens();
    const output = tokens.wait('t1', 'arn:e1');
    expect(codeOf(() => tokens.heartbeat('t1'))).toBeUndefined();
    expect(codeOf(() => tokens.succeed('t1', 'not json'))).toBe('InvalidOutput');
    tokens.succeed('t1', '{"ok":true}');
    await expect(output).resolves.toEqual({ ok: true });
    expect(codeOf(() => tokens.succeed('t1', '{}'))).toBe('TaskTimedOut');
    expect(codeOf(() => tokens.heartbeat(newTaskToken()))).toBe('TaskDoesNotExist');
    for (const bogus of ['nobody', '', 'A'.repeat(64), `${newTaskToken()}0`]) expect(codeOf(() => tokens.heartbeat(bogus))).toBe('InvalidToken');
  });

  it('fails an attempt with the error and cause the caller names (States.TaskFailed when none)', async () => {
    const tokens = new TaskTokens();
    const named = tokens.wait('t1', 'arn:e1');
    const unnamed = tokens.wait('t2', 'arn:e1');
    tokens.fail('t1', 'Rejected', 'no thanks');
    tokens.fail('t2');
    await expect(named).rejects.toMatchObject({ name: 'Rejected', message: 'no thanks' });
    await expect(unnamed).rejects.toMatchObject({ name: 'States.TaskFailed', message: '' });
  });

  it('settles the waiting attempts of an execution that ended, or of an engine that closes, so their task states end (and clear their own timers)', async () => {
    const tokens = new TaskTokens();
    const stopped = tokens.wait('s1', 'arn:stopped');
    const dropped = tokens.wait('d1', 'arn:dropped');
    tokens.retireExecution('arn:stopped');
    await expect(stopped).rejects.toMatchObject({ name: 'States.Aborted' });
    tokens.clear();
    await expect(dropped).rejects.toMatchObject({ name: 'States.Aborted' });
  });

  it("retires every token of an execution that ended, and only that execution's", () => {
    const tokens = new TaskTokens();
    void tokens.wait('a1', 'arn:a');
    void tokens.wait('a2', 'arn:a');
    void tokens.wait('b1', 'arn:b');
    tokens.retireExecution('arn:a');
    expect([tokens.has('a1'), tokens.has('a2'), tokens.has('b1')]).toEqual([false, false, true]);
    expect(codeOf(() => tokens.heartbeat('a2'))).toBe('TaskTimedOut');
  });

  it("retires a token when its attempt's timeout passes, and close() leaves no timer behind", () => {
    jest.useFakeTimers();
    try {
      const tokens = new TaskTokens();
      void tokens.wait('slow', 'arn:a', 60_000);
      jest.advanceTimersByTime(59_999);
      expect(codeOf(() => tokens.heartbeat('slow'))).toBeUndefined();
      jest.advanceTimersByTime(1);
      expect(codeOf(() => tokens.heartbeat('slow'))).toBe('TaskTimedOut');
      void tokens.wait('pending', 'arn:a', 60_000);
      expect(jest.getTimerCount()).toBe(1);
      tokens.clear();
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('a 30-day timeout holds 29 days (no timer overflow), then fails the attempt with States.Timeout and the token is stale', async () => {
    const clock = new VirtualTimers();
    const tokens = new TaskTokens(clock);
    const token = newTaskToken();
    const output = tokens.wait(token, 'arn:e1', 30 * 24 * 3600 * 1000);
    clock.advance(29 * 24 * 3600 * 1000);
    expect(codeOf(() => tokens.heartbeat(token))).toBeUndefined();
    clock.advance(24 * 3600 * 1000);
    await expect(output).rejects.toMatchObject({ name: 'States.Timeout' });
    expect(codeOf(() => tokens.heartbeat(token))).toBe('TaskTimedOut');
    expect(clock.pending).toBe(0);
  });
});
