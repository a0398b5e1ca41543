/** The range a NAT picks random external ports from when nothing says otherwise (Linux: 1024-65535). */
export const DEFAULT_RANDOM_PORT_RANGE = { low: 1024, high: 65535 } as const;

/**
 * The chance that `probes` distinct random ports out of `rangeSize` hit at least one of `openPorts` open
 * mappings (the birthday attack on a random-port NAT: sampling without replacement, so it reaches 1 when the
 * probes cover the range): 1 − ∏_{i<probes} (1 − openPorts / (rangeSize − i)).
 */
export function birthdayProbability(openPorts: number, rangeSize: number, probes: number): number {
  if (openPorts <= 0 || probes <= 0 || rangeSize <= 0) return 0;
  if (openPorts >= rangeSize) return 1;
  let logMiss = 0;
  const draws = Math.min(probes, rangeSize);
  for (let i = 0; i < draws; i += 1) {
    const left = rangeSize - i;
    if (left <= openPorts) return 1;
    logMiss += Math.log1p(-openPorts / left);
  }
  return 1 - Math.exp(logMiss);
}

/** The fewest probes that reach `target` probability (undefined when even the whole range cannot). */
export function birthdayProbesFor(openPorts: number, rangeSize: number, target: number): number | undefined {
  if (openPorts <= 0) return undefined;
  let logMiss = 0;
  for (let i = 0; i < rangeSize; i += 1) {
    const left = rangeSize - i;
    if (left <= openPorts) return i + 1;
    logMiss += Math.log1p(-openPorts / left);
    if (1 - Math.exp(logMiss) >= target) return i + 1;
  }
  return undefined;
}
