import type { PortAllocation } from './verdict.js';

/** How many next mappings a prediction covers by default (other flows may take some ports in between). */
export const DEFAULT_PREDICTION_WINDOW = 16;

/**
 * The ports a NAT will most likely hand out next for a fresh mapping (RFC 4787 §4.2.2: a NAT allocating
 * with a constant stride), after `lastMappedPort`: lastMappedPort + k × stride for k = 1..window, in order.
 * A port-preserving NAT keeps the local port, so its prediction is that port alone. Empty when not predictable.
 */
export function predictNextPorts(allocation: Pick<PortAllocation, 'pattern' | 'delta'>, lastMappedPort: number, localPort: number, window = DEFAULT_PREDICTION_WINDOW): number[] {
  if (allocation.pattern === 'preserved') return [localPort];
  if (allocation.pattern !== 'sequential' || allocation.delta === undefined || allocation.delta === 0) return [];
  const ports: number[] = [];
  for (let k = 1; k <= window; k += 1) {
    const port = lastMappedPort + k * allocation.delta;
    if (port >= 1 && port <= 65535) ports.push(port);
  }
  return ports;
}
