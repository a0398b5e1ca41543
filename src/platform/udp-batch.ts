import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * The batched UDP I/O addon (native/udp-batch.c, built into dist/native/udp-batch.node by `npm run build` when a C
 * compiler and Node's headers are present). Linux recvmmsg(2)/sendmmsg(2): one syscall and one JS call per batch of
 * up to BATCH datagrams instead of one of each per datagram. Optional: without it the servers use node:dgram.
 */
export interface UdpBatchAddon {
  /**
   * Binds a non-blocking UDP socket, with SO_REUSEPORT when asked (the kernel then spreads flows, by a hash of
   * their addresses, over all sockets bound so); throws an Error with `code` (EADDRINUSE, EADDRNOTAVAIL, ...).
   */
  open(family: 4 | 6, address: Uint8Array, port: number, receiveBufferBytes: number, reusePort?: boolean): number;
  localPort(fd: number): number;
  /** Reads batches into `data` (SLOT_BYTES per datagram) and `records` (RECORD_BYTES each); `onBatch(count)` each. */
  poll(fd: number, data: Uint8Array, records: Uint8Array, onBatch: (count: number) => void): UdpBatchHandle;
  /** Sends `count` datagrams (SEND_SLOT_BYTES apart in `data`); returns how many left (the rest were lost, as UDP may). */
  send(fd: number, data: Uint8Array, records: Uint8Array, count: number): number;
  /** Stops reading and closes the fd (the port is free when it returns). */
  stop(handle: UdpBatchHandle): void;
  /** Closes an fd that no poll owns (a cluster primary's copy). */
  closeFd(fd: number): void;
  readonly BATCH: number;
  readonly SLOT_BYTES: number;
  readonly SEND_SLOT_BYTES: number;
  readonly RECORD_BYTES: number;
}

/** An opaque handle of a polled socket. */
export type UdpBatchHandle = { readonly __udpBatchHandle: never };

/** The addon, or why it is not there. */
export type UdpBatchLoad = { readonly addon: UdpBatchAddon } | { readonly addon?: undefined; readonly reason: string };

let loaded: UdpBatchLoad | undefined;

/** Where the built addon may be, seen from this module: unbundled (dist/platform), bundled (dist/cli/chunks), ts-jest (src/platform). */
const CANDIDATES = ['../native/udp-batch.node', '../../native/udp-batch.node', '../../dist/native/udp-batch.node'];

/** Loads the addon once; never throws. */
export function loadUdpBatch(): UdpBatchLoad {
  if (loaded !== undefined) return loaded;
  if (process.platform !== 'linux') return (loaded = { reason: `batched UDP I/O needs Linux (recvmmsg), not ${process.platform}` });
  const path = CANDIDATES.map((relative) => fileURLToPath(new URL(relative, import.meta.url))).find((candidate) => existsSync(candidate));
  if (path === undefined) return (loaded = { reason: 'the batched UDP addon is not built (npm run build needs gcc and Node headers)' });
  try {
    return (loaded = { addon: createRequire(import.meta.url)(path) as UdpBatchAddon });
  } catch (error) {
    return (loaded = { reason: `the batched UDP addon ${path} did not load: ${(error as Error).message}` });
  }
}
