import { AttributeType, MessageType, isComprehensionRequired } from '../codec/constants.js';
import { decodeStunMessage, looksLikeStun, type StunMessage } from '../codec/decode.js';
import { encodeBindingErrorResponse, encodeBindingSuccessResponse } from '../codec/encode.js';
import { transportAddress, type TransportAddress } from '../codec/transport-address.js';
import type { ServerAction, ServerSocketKey, StunServerConfig } from './stun-server.js';

const KNOWN_ATTRIBUTES = new Set<number>(Object.values(AttributeType));

/**
 * The STUN server's decision written with the general codec: decode everything, then encode variants until one fits.
 * Too slow for a public server (it is what the fast path replaced), kept as the executable specification the fast
 * path is tested against, byte for byte. RFC 5389/8489 requests only: the codec does not speak RFC 3489. No rate limit.
 */
export function answerWithCodec(
  config: StunServerConfig,
  bytes: Uint8Array,
  source: TransportAddress,
  arrivedOn: ServerSocketKey,
): ServerAction {
  const supportsRfc5780 = config.alternateAddress !== undefined;
  const maxAmplification = config.maxAmplification ?? 5;
  const localAddress = (key: ServerSocketKey): TransportAddress =>
    transportAddress(
      key.address === 'primary' ? config.primaryAddress : (config.alternateAddress ?? config.primaryAddress),
      key.port === 'primary' ? config.primaryPort : (config.alternatePort ?? config.primaryPort),
    );
  if (!looksLikeStun(bytes)) return { type: 'ignore', reason: 'not-stun' };
  let request: StunMessage;
  try {
    request = decodeStunMessage(bytes);
  } catch (error) {
    return { type: 'ignore', reason: 'malformed', detail: (error as Error).message };
  }
  // RFC 8489 §6.3: only requests are answered; indications and responses to us are dropped.
  if (request.messageType !== MessageType.BINDING_REQUEST) return { type: 'ignore', reason: 'not-a-binding-request' };
  const budget = bytes.length * maxAmplification;
  const reply = (via: ServerSocketKey, response: Uint8Array, to: TransportAddress = source): ServerAction => ({ type: 'send', via, to, bytes: response });
  const error = (code: number, reason: string, unknownAttributes?: readonly number[]): ServerAction => {
    const response = encodeBindingErrorResponse({
      transactionId: request.transactionId,
      code,
      reason,
      ...(unknownAttributes === undefined ? {} : { unknownAttributes }),
    });
    return response.length > budget ? { type: 'ignore', reason: 'over-amplification-bound' } : reply(arrivedOn, response);
  };

  // RFC 8489 §6.3.1: unknown comprehension-required attributes get 420 with UNKNOWN-ATTRIBUTES.
  const unknown = request.attributeTypes.filter((type) => isComprehensionRequired(type) && !KNOWN_ATTRIBUTES.has(type));
  if (unknown.length > 0) return error(420, 'Unknown Attribute', unknown);
  const change = request.changeRequest;
  const wantsChange = change !== undefined && (change.changeIp || change.changePort);
  // RFC 5780 §6.1: a server without an alternate address answers CHANGE-REQUEST with 420.
  if (wantsChange && !supportsRfc5780) return error(420, 'Unknown Attribute', [AttributeType.CHANGE_REQUEST]);
  // RFC 5780 §7.5/§7.6: RESPONSE-PORT with PADDING is a bad request.
  if (request.responsePort !== undefined && request.paddingLength !== undefined) return error(400, 'Bad Request');

  const flip = (side: 'primary' | 'alternate'): 'primary' | 'alternate' => (side === 'primary' ? 'alternate' : 'primary');
  const via: ServerSocketKey = {
    address: change?.changeIp === true ? flip(arrivedOn.address) : arrivedOn.address,
    port: change?.changePort === true ? flip(arrivedOn.port) : arrivedOn.port,
  };
  let destination = source;
  if (request.responsePort !== undefined) {
    if (request.responsePort === 0) return { type: 'ignore', reason: 'bad-response-port' };
    destination = transportAddress(source.address, request.responsePort);
  }
  // RFC 5780 §7.4: OTHER-ADDRESS is where a change of both IP and port would answer from, seen from the arrival socket.
  const otherAddress = supportsRfc5780 ? localAddress({ address: flip(arrivedOn.address), port: flip(arrivedOn.port) }) : undefined;
  const padding = request.paddingLength ?? 0;
  // Each step drops one more optional attribute: SOFTWARE, then padding, MAPPED-ADDRESS, FINGERPRINT.
  const variants = [
    { software: true, padding: true, mapped: true, fingerprint: true },
    { software: false, padding: true, mapped: true, fingerprint: true },
    { software: false, padding: false, mapped: true, fingerprint: true },
    { software: false, padding: false, mapped: false, fingerprint: true },
    { software: false, padding: false, mapped: false, fingerprint: false },
  ];
  for (const variant of variants) {
    const response = encodeBindingSuccessResponse({
      transactionId: request.transactionId,
      xorMappedAddress: source,
      ...(variant.mapped ? { mappedAddress: source } : {}),
      responseOrigin: localAddress(via),
      ...(otherAddress === undefined ? {} : { otherAddress }),
      ...(variant.software && config.software !== undefined ? { software: config.software } : {}),
      ...(variant.padding && padding > 0 ? { paddingLength: padding } : {}),
      fingerprint: variant.fingerprint,
    });
    if (response.length <= budget) return reply(via, response, destination);
  }
  return { type: 'ignore', reason: 'over-amplification-bound' };
}
