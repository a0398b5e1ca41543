import type { LabDescription } from '../../api/lab.js';

/** What `lab up` built, in lines: each NAT with its preset and its client, then where the servers go. */
export function renderLabUp(lab: LabDescription): string {
  const lines = [`lab up: ${lab.preset === lab.peerPreset ? `${lab.preset} in both NATs` : `${lab.preset} (nat1) and ${lab.peerPreset} (nat2)`}`];
  for (const nat of lab.nats) {
    lines.push(`  ${nat.host} ${nat.publicAddress}: ${nat.preset} (${nat.description}); ${nat.clientHost} ${nat.client} behind it`);
  }
  lines.push(`  public: STUN/echo/rendezvous servers go on ${lab.servers.join(' and ')}`);
  lines.push(`try: natscope lab exec public -- natscope serve stun --address ${lab.servers[0]} --alt-address ${lab.servers[1]}`);
  if (lab.family === 6) lines.push('this preset is about IPv6; the lab is dual-stack and leaves IPv4 routed');
  return lines.join('\n');
}
