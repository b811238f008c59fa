/**
 * Keeps server-side fetches (URL ingestion, webhook delivery) away from loopback and private
 * networks, as a hosted service must. URLs are checked up front, and the connection's own DNS
 * lookup refuses private answers, so a public name that resolves to 127.0.0.1 is caught too.
 */
import { lookup as dnsLookup } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { Agent } from 'undici';
import { HttpError } from './http-io.js';

const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 127],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv6');
}

/** Whether an IP address is loopback, private, link-local, reserved or multicast. */
function isPrivateAddress(ip: string): boolean {
  // BlockList also matches IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) against the IPv4 rules.
  const family = isIP(ip);
  if (family === 0) return true;
  return PRIVATE.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Parses and vets a URL for a server-side request; throws HttpError 400 naming the problem.
 * Without `allowPrivate` only `strictSchemes` are allowed and loopback/private hosts are refused.
 */
export function vetUrl(raw: string, allowPrivate: boolean, strictSchemes: readonly string[], what: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new HttpError(400, `${what} is not a valid URL`);
  }
  const schemes = allowPrivate ? ['http:', 'https:'] : strictSchemes;
  if (!schemes.includes(url.protocol)) {
    throw new HttpError(400, `${what} must use ${schemes.map((s) => s.slice(0, -1)).join(' or ')}`);
  }
  if (url.username !== '' || url.password !== '') throw new HttpError(400, `${what} must not contain credentials`);
  if (!allowPrivate) {
    const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
    if (host === 'localhost' || host.endsWith('.localhost') || (isIP(host) !== 0 && isPrivateAddress(host))) {
      throw new HttpError(400, `${what} points to a private or loopback address`);
    }
  }
  return url;
}

/** DNS lookup that fails when any answer is a private address. */
const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, options, (err, address, family) => {
    if (err !== null) return callback(err, address, family);
    const addresses = Array.isArray(address) ? address.map((a) => a.address) : [address];
    const refused = addresses.find(isPrivateAddress);
    if (refused !== undefined) {
      const error: NodeJS.ErrnoException = new Error(`${hostname} resolves to a private address (${refused})`);
      error.code = 'EPRIVATEADDR';
      return callback(error, address, family);
    }
    callback(null, address, family);
  });
};

/** The undici dispatcher for outgoing requests: guarded unless private addresses are allowed. */
export function outboundAgent(allowPrivate: boolean): Agent {
  return allowPrivate ? new Agent() : new Agent({ connect: { lookup: guardedLookup } });
}
