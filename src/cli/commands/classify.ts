import { isIP } from 'node:net';
import type { ClassifyReport } from '../../api/classify.js';
import type { Io } from '../context.js';
import { ExitCode, ExitError } from '../exit-codes.js';
import { checkExpectations, exitCodeFor, parseExpectations } from '../expect.js';
import { createProgress } from '../spinner.js';

/** The schema of `natscope classify --json`. */
export const CLASSIFY_JSON_SCHEMA = 'natscope.classify/1';

/** Normalised options of `natscope classify`. */
export interface ClassifyCommandOptions {
  readonly servers: readonly string[];
  readonly family?: 4 | 6;
  readonly json: boolean;
  readonly expect: readonly string[];
  readonly rtoMs?: number;
  /** Ask the router too (--no-gateway skips it). */
  readonly gateway?: boolean;
}

/** The keys --expect accepts: the report's top-level scalar fields. */
export const CLASSIFY_EXPECT_KEYS = [
  'nat',
  'mapping',
  'filtering',
  'hairpinning',
  'algRewriting',
  'portPreservation',
  'rfc3489',
  'mappedAddress',
  'localAddress',
  'server',
  'serverSupportsRfc5780',
  'doubleNat',
] as const;

/** A usage error when --family contradicts a server given as an IP address ("--family 6" with 127.0.0.1). */
export function checkFamilyMatchesAddresses(family: 4 | 6 | undefined, hosts: readonly string[]): void {
  if (family === undefined) return;
  for (const host of hosts) {
    const version = isIP(host);
    if (version !== 0 && version !== family) {
      throw new ExitError(ExitCode.USAGE, `--family ${family} does not match the IPv${version} server address ${host}: drop --family, or give an IPv${family} address`);
    }
  }
}

/** Runs `natscope classify`; returns the exit code and what to print. Protocol code loads only here. */
export async function runClassifyCommand(options: ClassifyCommandOptions, io: Io): Promise<{ exitCode: number; stdout: string }> {
  const expectations = parseExpectations(options.expect, CLASSIFY_EXPECT_KEYS);
  const [{ classify }, { parseHostPort }, progress] = await Promise.all([
    import('../../api/classify.js'),
    import('../../platform/resolve-host.js'),
    createProgress(!options.json, io.progressStream, io.env, io.onInterrupt),
  ]);
  let report: ClassifyReport;
  try {
    checkFamilyMatchesAddresses(options.family, options.servers.map((text) => parseHostPort(text, 3478).host));
    report = await classify({
      servers: options.servers,
      ...(options.family === undefined ? {} : { family: options.family }),
      onProgress: (p) => progress.update(p.text),
      ...(options.rtoMs === undefined ? {} : { policy: { rtoMs: options.rtoMs } }),
      gateway: options.gateway ?? false,
    });
  } finally {
    progress.stop();
  }
  const results = checkExpectations(report as unknown as Record<string, unknown>, expectations);
  const exitCode = exitCodeFor(results, report.rfc3489 === 'unknown');
  if (options.json) return { exitCode, stdout: JSON.stringify({ ...report, expectations: results }, null, 2) };
  const [{ renderClassifyText }, { renderExpectations }, { wrapParagraph }] = await Promise.all([
    import('../render/classify-text.js'),
    import('../render/expectations-text.js'),
    import('../render/wrap.js'),
  ]);
  const { renderGatewaySection } = await import('../render/gateway-text.js');
  return { exitCode, stdout: [renderClassifyText(report, io.textWidth), ...renderGatewaySection(report).map((line) => wrapParagraph(line, io.textWidth)), ...renderExpectations(results).map((line) => wrapParagraph(line, io.textWidth))].join('\n') };
}
