import { afterEach, describe, expect, it } from '@jest/globals';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { encodeNatPmpResponse } from '../../src/codec/natpmp.js';
import { encodePcpResponse } from '../../src/codec/pcp/messages.js';
import { boundedHttp, type HttpExchange } from '../../src/platform/bounded-http.js';
import { nodeUdpNetwork } from '../../src/platform/node-udp.js';
import { systemClock } from '../../src/platform/system-clock.js';
import { probeGateway } from '../../src/probe/gateway-probe.js';
import { igdDescription, soapResponse, ssdpResponse, startFakeRouter, type FakeRouter, type FakeRouterScript } from '../helpers/fake-router.js';

const BUDGET_MS = 300;
const fastHttp: HttpExchange = (url, init) => boundedHttp(url, init, { timeoutMs: 400, maxBodyBytes: 64 * 1024 });

let router: FakeRouter | undefined;
afterEach(async () => {
  await router?.close();
  router = undefined;
});

/** A router that answers everything well, with parts replaced by the test. */
const wellBehaved = (overrides: Partial<FakeRouterScript> = {}): FakeRouterScript => ({
  portMapping: (request) =>
    request[0] === 0
      ? encodeNatPmpResponse({ type: 'external-address', resultCode: 0, epochSeconds: 77, externalAddress: '192.0.3.11' })
      : encodePcpResponse({ opcode: 0, resultCode: 0, lifetimeSeconds: 0, epochSeconds: 77 }),
  ssdp: (httpPort) => ssdpResponse(`http://127.0.0.1:${httpPort}/rootDesc.xml`),
  http: (request: IncomingMessage, response: ServerResponse) => {
    if (request.url === '/rootDesc.xml') {
      response.writeHead(200, { 'Content-Type': 'text/xml' }).end(igdDescription());
      return;
    }
    const action = String(request.headers.soapaction ?? '').replace(/^.*#|"$/g, '');
    if (action === 'GetExternalIPAddress') response.writeHead(200, { 'Content-Type': 'text/xml' }).end(soapResponse(action, { NewExternalIPAddress: '192.0.3.11' }));
    else response.writeHead(200, { 'Content-Type': 'text/xml' }).end(soapResponse(action, { NewConnectionStatus: 'Connected' }));
  },
  ...overrides,
});

async function probe(script: FakeRouterScript) {
  router = await startFakeRouter(script);
  const started = performance.now();
  const findings = await probeGateway(nodeUdpNetwork, systemClock, fastHttp, {
    gateway: '127.0.0.1',
    clientAddress: '127.0.0.1',
    natPmpPort: router.natPmpPort,
    ssdpPort: router.ssdpPort,
    ssdpMulticast: false,
    udpBudgetMs: BUDGET_MS,
  });
  return { findings, elapsedMs: performance.now() - started };
}

describe('probeGateway against a fake router on loopback', () => {
  it('finds UPnP-IGD, NAT-PMP and PCP on a well-behaved router, with address, epoch and device', async () => {
    const { findings, elapsedMs } = await probe(wellBehaved());
    expect(findings.natPmp).toMatchObject({ available: true, canMap: true, externalAddress: '192.0.3.11', epoch: 77 });
    expect(findings.pcp).toMatchObject({ available: true, resultName: 'SUCCESS', epoch: 77 });
    expect(findings.upnp).toMatchObject({ available: true, connected: true, externalAddress: '192.0.3.11', deviceName: 'Fake router', manufacturer: 'Fake & Co', model: 'FR 7', connectionStatus: 'Connected' });
    // Everything answered: the probe ends long before its silence budget.
    expect(elapsedMs).toBeLessThan(BUDGET_MS);
    // The PCP ANNOUNCE carries the client address, IPv4-mapped.
    const pcpRequest = router!.portMappingRequests.find((r) => r[0] === 2)!;
    expect(Buffer.from(pcpRequest.subarray(8, 24)).toString('hex')).toBe('00000000000000000000ffff7f000001');
  });

  it('says "no answer" for a silent router, within the budget', async () => {
    const { findings, elapsedMs } = await probe({});
    expect(findings.natPmp).toMatchObject({ available: false, reason: expect.stringMatching(/no NAT-PMP answer .* \(\d requests\)/) });
    expect(findings.pcp).toMatchObject({ available: false, reason: expect.stringMatching(/no PCP answer/) });
    expect(findings.upnp).toMatchObject({ available: false, reason: expect.stringMatching(/no UPnP InternetGatewayDevice answered/) });
    expect(elapsedMs).toBeLessThan(BUDGET_MS + 500);
    // RFC 6886 §3.1: NAT-PMP resent at 250 ms within a 300 ms budget.
    expect(router!.portMappingRequests.filter((r) => r[0] === 0).length).toBe(2);
  });

  it('gives per-protocol reasons for garbage and truncated replies, never a crash', async () => {
    const { findings, elapsedMs } = await probe({
      portMapping: (request) => (request[0] === 0 ? Uint8Array.of(0, 0x80, 0) : Uint8Array.of(2, 0x80, 0, 0, 9)),
      ssdp: () => new TextEncoder().encode('\u0000\u00ffnot http at all'),
    });
    expect(findings.natPmp).toMatchObject({ available: false, reason: expect.stringMatching(/malformed NAT-PMP replies: 3 bytes is shorter/) });
    expect(findings.pcp).toMatchObject({ available: false, reason: expect.stringMatching(/malformed PCP replies: 5 bytes is shorter/) });
    expect(findings.upnp).toMatchObject({ available: false, reason: expect.stringMatching(/not an SSDP search response/) });
    expect(elapsedMs).toBeLessThan(BUDGET_MS + 500);
  });

  it('explains NAT-PMP result 3 as a router without a usable public address, and reads a NAT-PMP-only router', async () => {
    const { findings } = await probe(
      wellBehaved({
        portMapping: (request) =>
          request[0] === 0
            ? Uint8Array.from(Buffer.from('008000030000000200000000', 'hex'))
            : encodeNatPmpResponse({ type: 'error', opcode: 0, resultCode: 1, epochSeconds: 2 }),
      }),
    );
    expect(findings.natPmp).toMatchObject({ available: true, canMap: false, resultCode: 3, externalAddress: null, reason: expect.stringMatching(/Network Failure.*behind another NAT/) });
    expect(findings.pcp).toMatchObject({ available: false, reason: expect.stringMatching(/speaks NAT-PMP only/) });
  });

  it('reads "no external address" from an IGD like miniupnpd behind another NAT', async () => {
    const script = wellBehaved();
    const { findings } = await probe({
      ...script,
      http: (request, response, body) => {
        if (String(request.headers.soapaction).includes('GetExternalIPAddress')) {
          response.writeHead(200, { 'Content-Type': 'text/xml' }).end(soapResponse('GetExternalIPAddress', { NewExternalIPAddress: '' }));
          return;
        }
        script.http!(request, response, body);
      },
    });
    expect(findings.upnp).toMatchObject({ available: true, connected: false, externalAddress: null, reason: expect.stringMatching(/gives no external address/) });
  });

  it('stops reading a huge description at 64 kB', async () => {
    const { findings, elapsedMs } = await probe(
      wellBehaved({
        http: (_request, response) => {
          response.writeHead(200, { 'Content-Type': 'text/xml' });
          const chunk = `<x>${'A'.repeat(16 * 1024)}</x>`;
          // 10 MB, written as fast as the socket takes it.
          let sent = 0;
          const pump = (): void => {
            while (sent < 10 * 1024 * 1024) {
              sent += chunk.length;
              if (!response.write(chunk)) {
                response.once('drain', pump);
                return;
              }
            }
            response.end();
          };
          pump();
        },
      }),
    );
    expect(findings.upnp).toMatchObject({ available: false, reason: expect.stringMatching(/longer than the 65536 bytes allowed/) });
    expect(elapsedMs).toBeLessThan(2_000);
  });

  it('refuses a declared huge body before reading it', async () => {
    const { findings } = await probe(wellBehaved({ http: (_request, response) => response.writeHead(200, { 'Content-Type': 'text/xml', 'Content-Length': String(50 * 1024 * 1024) }).write('<') }));
    expect(findings.upnp.reason).toMatch(/declares 52428800 bytes, more than the 65536 allowed/);
  });

  it('gives up on a slow HTTP server at its deadline', async () => {
    const { findings, elapsedMs } = await probe(wellBehaved({ http: (_request, response) => response.writeHead(200, { 'Content-Type': 'text/xml' }).write('<root>') }));
    expect(findings.upnp).toMatchObject({ available: false, reason: expect.stringMatching(/no complete answer within 400 ms/) });
    expect(elapsedMs).toBeLessThan(BUDGET_MS + 1_500);
  });

  it('does not follow redirects', async () => {
    const { findings } = await probe(wellBehaved({ http: (_request, response) => response.writeHead(302, { Location: 'http://127.0.0.1:1/elsewhere' }).end() }));
    expect(findings.upnp).toMatchObject({ available: false, reason: expect.stringMatching(/HTTP 302 \(redirects are not followed\)/) });
  });

  it('does not fetch a LOCATION on another host than the one that answered', async () => {
    const { findings } = await probe(wellBehaved({ ssdp: (port) => ssdpResponse(`http://127.0.0.2:${port}/rootDesc.xml`) }));
    expect(findings.upnp).toMatchObject({ available: false, reason: expect.stringMatching(/pointing at another host \(127\.0\.0\.2\)/) });
  });

  it('reads a SOAP fault as a UPnP error, and XML entity declarations as plain text', async () => {
    const bomb = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>${igdDescription('&lol2;')}`;
    const { findings } = await probe(
      wellBehaved({
        http: (request, response) => {
          if (request.url === '/rootDesc.xml') {
            response.writeHead(200, { 'Content-Type': 'text/xml' }).end(bomb);
            return;
          }
          response.writeHead(500, { 'Content-Type': 'text/xml' }).end('<s:Envelope xmlns:s="x"><s:Body><s:Fault><detail><UPnPError><errorCode>501</errorCode><errorDescription>Action Failed</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>');
        },
      }),
    );
    expect(findings.upnp).toMatchObject({ available: true, connected: false, deviceName: '&lol2;', reason: expect.stringMatching(/UPnP error 501 \(Action Failed\)/) });
  });

  it('ignores NAT-PMP and PCP answers from another port than the one asked (RFC 6886 §3.1, RFC 6887 §8.3)', async () => {
    const { findings } = await probe({ ...wellBehaved(), replyFromOtherPort: true });
    expect(findings.natPmp).toMatchObject({ available: false, reason: expect.stringMatching(/no NAT-PMP answer/) });
    expect(findings.pcp).toMatchObject({ available: false, reason: expect.stringMatching(/no PCP answer/) });
    expect(findings.upnp.available).toBe(true);
  });
});
