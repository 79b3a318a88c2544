import { describe, expect, test } from 'vitest';
import { FLAVOURS, sharedStateForSuite } from '../support/shared-state.ts';

const MINUTE = 60_000;
let next = 0;
/** A fingerprint no other test uses. */
const fingerprint = () => `dead_letter/consumer-${process.pid}-${Date.now()}-${next++}`;

describe.each(FLAVOURS)('alert ledger contract ($name)', (flavour) => {
  const state = sharedStateForSuite(flavour);

  test('when many instances open the same alert at once, then exactly one may post it', async () => {
    const alert = fingerprint();
    const t = 1_000_000;
    const opened = await Promise.all(
      Array.from({ length: 20 }, () => state.alerts.open(alert, t, t + MINUTE)),
    );
    expect(opened.filter(Boolean)).toHaveLength(1);
  });

  test('when the same alert comes again within its window, then it is a duplicate; after it, a reminder', async () => {
    const alert = fingerprint();
    const t = 2_000_000;
    expect(await state.alerts.open(alert, t, t + MINUTE)).toBe(true);
    expect(await state.alerts.open(alert, t + 30_000, t + 30_000 + MINUTE)).toBe(false);
    expect(await state.alerts.open(alert, t + MINUTE - 1, t + 2 * MINUTE)).toBe(false);
    expect(await state.alerts.open(alert, t + MINUTE, t + 2 * MINUTE)).toBe(true);
  });

  test('when an open alert is closed by many at once, then exactly one says it was open', async () => {
    const alert = fingerprint();
    await state.alerts.open(alert, 0, MINUTE);
    const closed = await Promise.all(Array.from({ length: 10 }, () => state.alerts.close(alert)));
    expect(closed.filter(Boolean)).toHaveLength(1);
    expect(await state.alerts.open(alert, 1, MINUTE)).toBe(true);
  });

  test('when an alert was never opened, then closing it says so, and other alerts are not touched', async () => {
    const other = fingerprint();
    await state.alerts.open(other, 0, MINUTE);
    expect(await state.alerts.close(fingerprint())).toBe(false);
    expect(await state.alerts.open(other, 1, MINUTE)).toBe(false);
  });
});
