import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { SocketError } from '../errors.js';
import type { StunServerStats } from '../protocol/stun-server.js';

/** What one worker's metrics read, on each scrape. */
export interface StunMetricsSource {
  readonly stats: StunServerStats;
  readonly sourcesTracked: number;
}

type PromClient = typeof import('prom-client');

/** Loads prom-client only when --metrics asks for it (its import costs start-up time). */
export async function loadPromClient(): Promise<PromClient> {
  return (await import('prom-client')).default as unknown as PromClient;
}

/**
 * Registers the STUN server's metrics of one worker in `registry`, read from its plain counters at scrape time
 * (nothing on the hot path). Labels: the worker number and a small fixed set of kinds — never a source address.
 */
export function registerStunMetrics(prom: PromClient, registry: Registry, worker: string, source: StunMetricsSource): void {
  const counter = (name: string, help: string, labelNames: string[], values: () => Array<[Record<string, string>, number]>): void => {
    new prom.Counter({
      name,
      help,
      labelNames: ['worker', ...labelNames],
      registers: [registry],
      collect() {
        this.reset();
        for (const [labels, value] of values()) this.inc({ worker, ...labels }, value);
      },
    });
  };
  const gauge = (name: string, help: string, value: () => number, aggregator: 'sum' | 'max'): void => {
    new prom.Gauge({
      name,
      help,
      labelNames: ['worker'],
      registers: [registry],
      aggregator,
      collect() {
        this.set({ worker }, value());
      },
    });
  };
  const { stats } = source;
  counter('natscope_stun_requests_total', 'Binding requests read, by kind: rfc8489 (magic cookie) or rfc3489 (legacy, no cookie)', ['type'], () => [
    [{ type: 'rfc8489' }, stats.requests.rfc8489],
    [{ type: 'rfc3489' }, stats.requests.rfc3489],
  ]);
  counter('natscope_stun_responses_total', 'Responses sent, by type: success or error', ['type'], () => [
    [{ type: 'success' }, stats.responses.success],
    [{ type: 'error' }, stats.responses.error],
  ]);
  counter('natscope_stun_dropped_total', 'Datagrams dropped without an answer, by reason', ['reason'], () =>
    Object.entries(stats.drops).map(([reason, n]): [Record<string, string>, number] => [{ reason }, n]),
  );
  counter('natscope_stun_received_bytes_total', 'UDP payload bytes received', [], () => [[{}, stats.bytesIn]]);
  counter('natscope_stun_sent_bytes_total', 'UDP payload bytes sent', [], () => [[{}, stats.bytesOut]]);
  gauge('natscope_stun_largest_amplification_ratio', 'Largest response/request size ratio sent since start', () => stats.largestRatio, 'max');
  gauge('natscope_stun_sources_tracked', 'Source IPs the rate limiter tracks now', () => source.sourcesTracked, 'sum');
}

/** Serves `render()` as Prometheus text on http://address:port/metrics. */
export function serveMetrics(address: string, port: number, contentType: string, render: () => Promise<string>): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((request, response) => {
      if (request.url !== '/metrics' && request.url !== '/') {
        response.writeHead(404).end('not found: try /metrics\n');
        return;
      }
      render().then(
        (text) => response.writeHead(200, { 'content-type': contentType }).end(text),
        (error: Error) => response.writeHead(500).end(`metrics failed: ${error.message}\n`),
      );
    });
    const onError = (cause: Error): void => reject(new SocketError(`Cannot serve metrics on ${address}:${port}: ${cause.message}`, { cause }));
    server.once('error', onError);
    server.listen(port, address, () => {
      server.off('error', onError);
      resolve(server);
    });
  });
}

/** One line naming the drops since `before`, or undefined when nothing was dropped (for a once-a-minute log). */
export function describeDrops(now: Readonly<Record<string, number>>, before: Readonly<Record<string, number>>): string | undefined {
  const parts = Object.entries(now)
    .map(([reason, n]) => [reason, n - (before[reason] ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${n} ${reason}`);
  return parts.length === 0 ? undefined : parts.join(', ');
}
