#!/usr/bin/env node
// The naive hole punch most tutorials show, for the p2p bench to compare with: learn your server-reflexive address
// from a STUN server, swap it with the peer (here through stdin/stdout, the bench being the signalling), then both
// send to the other's server-reflexive address every 100 ms. No prediction, no birthday, no peer-reflexive answer:
// it only ever sends to the address it was told.
//
// Protocol with the bench (one line each): prints "SRFLX ip:port"; reads "GO ip:port startAtEpochMs"; prints
// "DIRECT ms" (two-way: the peer says it hears us) or "NONE" after --timeout ms from the start.
// Usage: node bench/naive-peer.mjs --stun HOST:PORT --token T [--timeout 10000]
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { createTransactionId, decodeStunMessage, encodeBindingRequest, looksLikeStun } from '../dist/index.js';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
};
const [stunHost, stunPort] = (arg('stun') ?? '').split(':');
const token = arg('token', 'naive');
const timeoutMs = Number(arg('timeout', '10000'));
const INTERVAL_MS = 100;

const socket = createSocket('udp4');
await new Promise((resolve) => socket.bind(0, resolve));

// Server-reflexive address: a Binding request every 200 ms until answered (2 s at most).
const srflx = await new Promise((resolve) => {
  const transactionId = createTransactionId();
  const request = encodeBindingRequest({ transactionId });
  const onMessage = (bytes) => {
    if (!looksLikeStun(bytes)) return;
    const message = decodeStunMessage(bytes);
    const mapped = message.xorMappedAddress ?? message.mappedAddress;
    if (mapped === undefined || Buffer.compare(Buffer.from(message.transactionId), Buffer.from(transactionId)) !== 0) return;
    socket.off('message', onMessage);
    clearInterval(timer);
    resolve(mapped);
  };
  socket.on('message', onMessage);
  const send = () => socket.send(request, Number(stunPort), stunHost);
  const timer = setInterval(send, 200);
  send();
  setTimeout(() => {
    clearInterval(timer);
    resolve(undefined);
  }, 2000);
});
if (srflx === undefined) {
  console.log('NONE no server-reflexive address');
  process.exit(0);
}
console.log(`SRFLX ${srflx.address}:${srflx.port}`);

const lines = createInterface({ input: process.stdin });
const go = await new Promise((resolve) => lines.once('line', resolve));
const [, peer, startAt] = go.split(' ');
const [peerHost, peerPort] = peer.split(':');
const startAtMs = Number(startAt);

let heard = false;
let done = false;
const finish = (line) => {
  if (done) return;
  done = true;
  console.log(line);
  // Keep sending a little longer so the peer hears that we hear it, then leave.
  setTimeout(() => {
    clearInterval(timer);
    socket.close();
    lines.close();
  }, 500);
};
socket.on('message', (bytes) => {
  const text = bytes.toString();
  if (!text.startsWith(`naive ${token} `)) return;
  if (!heard) {
    heard = true;
    send(); // say at once that we hear the peer, so the confirmation does not wait for the next tick
  }
  if (text.endsWith('heard=1')) finish(`DIRECT ${Date.now() - startAtMs}`);
});
function send() {
  socket.send(`naive ${token} heard=${heard ? 1 : 0}`, Number(peerPort), peerHost);
}
let timer;
setTimeout(() => {
  timer = setInterval(send, INTERVAL_MS);
  send();
  setTimeout(() => finish('NONE'), timeoutMs);
}, Math.max(0, startAtMs - Date.now()));
