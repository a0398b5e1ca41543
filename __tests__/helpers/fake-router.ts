import { createSocket, type Socket } from 'node:dgram';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A fake home router on loopback: a NAT-PMP/PCP port, an SSDP port and an HTTP server, each scripted by the test. */
export interface FakeRouter {
  readonly natPmpPort: number;
  readonly ssdpPort: number;
  readonly httpPort: number;
  /** Every datagram that came to the NAT-PMP/PCP port. */
  readonly portMappingRequests: Uint8Array[];
  close(): Promise<void>;
}

/** What the fake router does with each request. */
export interface FakeRouterScript {
  /** Replies to a NAT-PMP/PCP datagram (undefined: stay silent). */
  readonly portMapping?: (request: Uint8Array) => Uint8Array | undefined;
  /** Replies to an SSDP search; receives the HTTP port to name in LOCATION. */
  readonly ssdp?: (httpPort: number) => Uint8Array | undefined;
  readonly http?: (request: IncomingMessage, response: ServerResponse, body: string) => void;
  /** Send NAT-PMP/PCP replies from the SSDP socket (another port than the one asked). */
  readonly replyFromOtherPort?: boolean;
}

const bindUdp = (): Promise<Socket> =>
  new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.bind(0, '127.0.0.1', () => resolve(socket));
  });

/** Starts the fake router on 127.0.0.1, ephemeral ports. */
export async function startFakeRouter(script: FakeRouterScript): Promise<FakeRouter> {
  const portMappingRequests: Uint8Array[] = [];
  const pmp = await bindUdp();
  const ssdp = await bindUdp();
  const http: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      if (script.http === undefined) {
        response.writeHead(404).end();
        return;
      }
      script.http(request, response, body);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
  const httpPort = (http.address() as AddressInfo).port;
  pmp.on('message', (message, remote) => {
    portMappingRequests.push(Uint8Array.from(message));
    const reply = script.portMapping?.(Uint8Array.from(message));
    if (reply !== undefined) (script.replyFromOtherPort === true ? ssdp : pmp).send(reply, remote.port, remote.address);
  });
  ssdp.on('message', (_message, remote) => {
    const reply = script.ssdp?.(httpPort);
    if (reply !== undefined) ssdp.send(reply, remote.port, remote.address);
  });
  return {
    natPmpPort: pmp.address().port,
    ssdpPort: ssdp.address().port,
    httpPort,
    portMappingRequests,
    close: async () => {
      pmp.close();
      ssdp.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** An SSDP search response naming `location`. */
export const ssdpResponse = (location: string): Uint8Array =>
  new TextEncoder().encode(['HTTP/1.1 200 OK', 'CACHE-CONTROL: max-age=120', 'ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1', 'USN: uuid:fake::urn:schemas-upnp-org:device:InternetGatewayDevice:1', `LOCATION: ${location}`, 'SERVER: fake/1 UPnP/1.1 fake/1', '', ''].join('\r\n'));

/** A device description like miniupnpd's, with one WANIPConnection service. */
export const igdDescription = (name = 'Fake router'): string =>
  `<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0"><device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType><friendlyName>${name}</friendlyName><manufacturer>Fake &amp; Co</manufacturer><modelName>FR</modelName><modelNumber>7</modelNumber><deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType><deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType><serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId><controlURL>/ctl/IPConn</controlURL></service></serviceList></device></deviceList></device></deviceList></device></root>`;

/** A SOAP response body for `action` with output arguments. */
export const soapResponse = (action: string, values: Record<string, string>): string =>
  `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><u:${action}Response xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1">${Object.entries(values)
    .map(([k, v]) => `<${k}>${v}</${k}>`)
    .join('')}</u:${action}Response></s:Body></s:Envelope>`;
