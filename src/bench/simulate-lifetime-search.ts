import { LifetimeSearch, type LifetimeResult, type LifetimeSearchConfig } from '../diagnose/lifetime-search.js';

/**
 * Drives a LifetimeSearch against an ideal simulated NAT whose holes live `lifetimeMs` when idle,
 * with a one-way delay of `delayMs` between client and NAT/server (so a read takes a round trip).
 */
export function simulateLifetimeSearch(lifetimeMs: number, config: Partial<LifetimeSearchConfig> = {}, delayMs = 20): LifetimeResult & { peakNatMappings: number } {
  const search = new LifetimeSearch(config, 0);
  // Events in flight: [timeMs, apply]
  let events: Array<{ atMs: number; apply: () => void }> = [];
  const natIdleSince = new Map<number, number>();
  let now = 0;
  // Mappings live in the NAT until they time out, whatever the client does with its sockets.
  let peakNatMappings = 0;
  const countNatMappings = (): void => {
    let alive = 0;
    for (const since of natIdleSince.values()) if (now - since < lifetimeMs) alive += 1;
    peakNatMappings = Math.max(peakNatMappings, alive);
  };
  for (let guard = 0; guard < 1_000_000; guard += 1) {
    const actions = search.poll(now);
    let wake: number | undefined;
    for (const action of actions) {
      if (action.type === 'done') return { ...action.result, peakNatMappings };
      if (action.type === 'open') {
        const id = action.socketId;
        // Registration: request reaches the NAT at now + delay (mapping made), reply back at now + 3 delays.
        events.push({ atMs: now + delayMs, apply: () => natIdleSince.set(id, now) });
        events.push({ atMs: now + 3 * delayMs, apply: () => {
          natIdleSince.set(id, now - delayMs);
          search.openedAt(id, now);
        } });
      } else if (action.type === 'read') {
        const id = action.socketId;
        // Probe request to the server (one delay), the server's probe to the NAT (one more), on to the client.
        events.push({ atMs: now + 2 * delayMs, apply: () => {
          const since = natIdleSince.get(id);
          const open = since !== undefined && now - since < lifetimeMs;
          if (open) natIdleSince.set(id, now);
          else natIdleSince.delete(id);
          const reportAt = now + delayMs;
          events.push({ atMs: reportAt, apply: () => search.readResult(id, open, now) });
        } });
      } else if (action.type === 'wait') {
        wake = action.untilMs;
      }
    }
    events.sort((a, b) => a.atMs - b.atMs);
    const nextEvent = events[0]?.atMs;
    const next = [wake, nextEvent].filter((t): t is number => t !== undefined).reduce((a, b) => Math.min(a, b), Infinity);
    if (next === Infinity) throw new Error(`search stalled at ${now} ms with L = ${lifetimeMs} ms`);
    now = Math.max(now, next);
    const due = events.filter((e) => e.atMs <= now);
    events = events.filter((e) => e.atMs > now);
    for (const e of due) e.apply();
    countNatMappings();
  }
  throw new Error('simulation did not end');
}

/**
 * The obvious method, for comparison: one socket at a time, bisecting [0, maxLifetimeMs]: register,
 * stay idle for the middle of the bracket, probe, and halve. Every step costs its idle time plus round trips.
 */
export function simulatePlainBisection(lifetimeMs: number, maxLifetimeMs = 600_000, delayMs = 20): { lowerMs: number; upperMs: number; elapsedMs: number } {
  let lower = 0;
  let upper = maxLifetimeMs;
  let elapsed = 0;
  while (upper - lower > Math.max(1000, 0.02 * lower)) {
    const middle = (lower + upper) / 2;
    elapsed += 3 * delayMs + middle + 3 * delayMs;
    if (middle < lifetimeMs) lower = middle;
    else upper = middle;
  }
  return { lowerMs: lower, upperMs: upper, elapsedMs: elapsed };
}

/** A fairer baseline: one socket at a time, doubling the idle time from 1 s until a hole closes, then bisecting. */
export function simulateDoublingThenBisection(lifetimeMs: number, maxLifetimeMs = 600_000, delayMs = 20): { lowerMs: number; upperMs: number; elapsedMs: number } {
  const roundTrips = 6 * delayMs;
  let lower = 0;
  let upper = Infinity;
  let elapsed = 0;
  for (let idle = 1000; upper === Infinity && idle <= 2 * maxLifetimeMs; idle *= 2) {
    elapsed += roundTrips + idle;
    if (idle < lifetimeMs) lower = idle;
    else upper = idle;
  }
  while (upper - lower > Math.max(1000, 0.02 * lower)) {
    const middle = (lower + upper) / 2;
    elapsed += roundTrips + middle;
    if (middle < lifetimeMs) lower = middle;
    else upper = middle;
  }
  return { lowerMs: lower, upperMs: upper, elapsedMs: elapsed };
}
