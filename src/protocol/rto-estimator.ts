import type { RetransmissionPolicy } from './transaction.js';

/** Bounds of the adaptive RTO. */
export interface RtoBounds {
  readonly minRtoMs: number;
  readonly maxRtoMs: number;
}

/**
 * Default bounds. RFC 8489 §6.2.1 lets the RTO follow the measured path when the network is known;
 * a 10 ms floor keeps seven sends of a test whose answer is "no response" under a second on a LAN,
 * while an internet path (RTT 30 ms) still gets an RTO near 100 ms.
 */
export const DEFAULT_RTO_BOUNDS: RtoBounds = { minRtoMs: 10, maxRtoMs: 3000 };

/** RFC 6298 §2 smoothed RTT estimator, per server: RTO = SRTT + 4 × RTTVAR, clamped. Sans-IO. */
export class RtoEstimator {
  private smoothedRttMs: number | undefined;
  private rttVariationMs = 0;
  private samples = 0;

  constructor(private readonly bounds: RtoBounds = DEFAULT_RTO_BOUNDS) {}

  /** Feeds one round-trip sample (only from transactions answered at the first send: Karn's rule). */
  observe(rttMs: number): void {
    if (!Number.isFinite(rttMs) || rttMs < 0) return;
    if (this.smoothedRttMs === undefined) {
      this.smoothedRttMs = rttMs;
      this.rttVariationMs = rttMs / 2;
    } else {
      // RFC 6298 §2.3 with alpha = 1/8, beta = 1/4.
      this.rttVariationMs = 0.75 * this.rttVariationMs + 0.25 * Math.abs(this.smoothedRttMs - rttMs);
      this.smoothedRttMs = 0.875 * this.smoothedRttMs + 0.125 * rttMs;
    }
    this.samples += 1;
  }

  /** How many samples it has seen. */
  get sampleCount(): number {
    return this.samples;
  }

  /** The RTO to use now, or undefined before the first sample. */
  rtoMs(): number | undefined {
    if (this.smoothedRttMs === undefined) return undefined;
    const rto = this.smoothedRttMs + Math.max(1, 4 * this.rttVariationMs);
    return Math.min(this.bounds.maxRtoMs, Math.max(this.bounds.minRtoMs, rto));
  }

  /** `policy` with its RTO replaced by the measured one, when there is one. */
  adapt(policy: RetransmissionPolicy): RetransmissionPolicy {
    const rto = this.rtoMs();
    return rto === undefined ? policy : { ...policy, rtoMs: rto };
  }
}
