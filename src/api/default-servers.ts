/**
 * The built-in server list, tried together with the first RFC 5780 answer winning.
 * RFC 5780 servers from the hourly public checker always-online-stun (valid_nat_testing_hosts.txt,
 * commit 0002108c564429051b1408c72ee85b8457d68131), a short and stable subset; then Binding-only servers,
 * used to find the mapping behaviour by comparison when no RFC 5780 server answers.
 */
export const DEFAULT_STUN_SERVERS: readonly string[] = [
  'stun.nextcloud.com:3478',
  'stun.hot-chilli.net:3478',
  'stun.freeswitch.org:3478',
  'stun.telnyx.com:3478',
  'stun.signalwire.com:3478',
  'stun.stunprotocol.org:3478',
  'stun.l.google.com:19302',
  'stun1.l.google.com:19302',
  'stun.cloudflare.com:3478',
];
