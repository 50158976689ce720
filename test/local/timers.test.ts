import { longTimeout, MAX_TIMER_MS } from '../../local/timers';
import { VirtualTimers } from '../helpers/virtual-timers';

const DAY = 24 * 3600 * 1000;

describe('long timers', () => {
  it('a wait longer than a Node timer holds fires at its time, not after 1 ms', () => {
    const clock = new VirtualTimers();
    let fired: number | undefined;
    longTimeout(
      () => {
        fired = clock.now;
      },
      30 * DAY,
      clock,
    );
    clock.advance(1);
    expect(fired).toBeUndefined();
    clock.advance(29 * DAY);
    expect(fired).toBeUndefined();
    clock.advance(DAY);
    expect(fired).toBe(30 * DAY);
  });

  it('the virtual clock overflows as Node does: a plain timer of 30 days fires after 1 ms', () => {
    const clock = new VirtualTimers();
    let fired = false;
    clock.setTimeout(() => {
      fired = true;
    }, 30 * DAY);
    clock.advance(1);
    expect(fired).toBe(true);
  });

  it('short waits are one timer; a cleared wait never fires', () => {
    const clock = new VirtualTimers();
    let fired = 0;
    longTimeout(() => fired++, 1000, clock);
    const cleared = longTimeout(() => fired++, 2 * MAX_TIMER_MS + 5, clock);
    clock.advance(MAX_TIMER_MS + 10);
    cleared.clear();
    clock.advance(3 * MAX_TIMER_MS);
    expect(fired).toBe(1);
    expect(clock.pending).toBe(0);
  });
});
