import { request } from 'node:http';

/** What a bounded HTTP exchange gave back, or why it gave nothing. Never throws. */
export type BoundedHttpResult =
  | { readonly type: 'response'; readonly statusCode: number; readonly headers: Readonly<Record<string, string | string[] | undefined>>; readonly body: string }
  | { readonly type: 'failed'; readonly reason: string };

/** Limits for talking to a router that may be broken or hostile. */
export interface BoundedHttpLimits {
  /** The whole exchange, connect to last byte. */
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
}

/** Router defaults: a description or SOAP answer is a few kB; 64 kB and 2 s leave a wide margin. */
export const DEFAULT_ROUTER_HTTP_LIMITS: BoundedHttpLimits = { timeoutMs: 2_000, maxBodyBytes: 64 * 1024 };

/** An HTTP exchange with a router (http: only), bounded in time and memory; redirects are reported, not followed. */
export type HttpExchange = (
  url: string,
  init: { readonly method: 'GET' | 'POST'; readonly headers?: Readonly<Record<string, string>>; readonly body?: string },
  limits?: BoundedHttpLimits,
) => Promise<BoundedHttpResult>;

/** node:http with a deadline over the whole exchange, a body cap, a 16 kB header cap, and no redirects. */
export const boundedHttp: HttpExchange = (url, init, limits = DEFAULT_ROUTER_HTTP_LIMITS) =>
  new Promise((resolve) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      resolve({ type: 'failed', reason: `not a URL: ${url.slice(0, 200)}` });
      return;
    }
    if (parsed.protocol !== 'http:') {
      resolve({ type: 'failed', reason: `only http: URLs, not ${parsed.protocol}` });
      return;
    }
    let settled = false;
    const finish = (result: BoundedHttpResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(result);
    };
    const body = init.body === undefined ? undefined : Buffer.from(init.body, 'utf8');
    const req = request(
      parsed,
      {
        method: init.method,
        headers: { ...init.headers, Connection: 'close', ...(body === undefined ? {} : { 'Content-Length': String(body.length) }) },
        maxHeaderSize: 16 * 1024,
        agent: false,
      },
      (response) => {
        const declared = Number(response.headers['content-length']);
        if (Number.isFinite(declared) && declared > limits.maxBodyBytes) {
          finish({ type: 'failed', reason: `the response declares ${declared} bytes, more than the ${limits.maxBodyBytes} allowed` });
          return;
        }
        const chunks: Buffer[] = [];
        let received = 0;
        response.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > limits.maxBodyBytes) {
            finish({ type: 'failed', reason: `the response is longer than the ${limits.maxBodyBytes} bytes allowed` });
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () =>
          finish({ type: 'response', statusCode: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        response.on('error', (error) => finish({ type: 'failed', reason: `the response broke off: ${error.message}` }));
      },
    );
    const timer = setTimeout(() => finish({ type: 'failed', reason: `no complete answer within ${limits.timeoutMs} ms` }), limits.timeoutMs);
    req.on('error', (error) => finish({ type: 'failed', reason: error.message }));
    req.end(body);
  });
