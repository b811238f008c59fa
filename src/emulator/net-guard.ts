/**
 * Keeps server-side fetches (URL ingestion, webhook delivery) away from loopback and private
 * networks, as a hosted service must. URLs are checked up front, and the connection's own DNS
 * lookup refuses private answers, so a public name that resolves to 127.0.0.1 is caught too.
 */
import { lookup as dnsLookup } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent } from 'undici';
import { HttpError } from './http-io.js';

/** IPv6 prefixes that carry an IPv4 address, and where: the last 32 bits, or bits 16–47 (6to4). */
const IPV4_IN_LAST_32_BITS = [
  ipaddr.IPv6.parseCIDR('::ffff:0:0/96'), // IPv4-mapped
  ipaddr.IPv6.parseCIDR('::ffff:0:0:0/96'), // IPv4-translated (RFC 6145)
  ipaddr.IPv6.parseCIDR('::/96'), // IPv4-compatible (deprecated, still routed by some stacks)
  ipaddr.IPv6.parseCIDR('64:ff9b::/96'), // NAT64 well-known prefix (RFC 6052)
] as const;
const SIX_TO_FOUR = ipaddr.IPv6.parseCIDR('2002::/16');

/** The IPv4 address an IPv6 address carries (mapped, translated, compatible, NAT64, 6to4), if any. */
function embeddedIPv4(address: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const parts = address.parts;
  const ipv4 = (high: number, low: number): ipaddr.IPv4 => new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
  // `::` and `::1` fall in ::/96 too and come out as 0.0.0.0 and 0.0.0.1: refused either way.
  if (IPV4_IN_LAST_32_BITS.some((range) => address.match(range))) return ipv4(parts[6] ?? 0, parts[7] ?? 0);
  if (address.match(SIX_TO_FOUR)) return ipv4(parts[1] ?? 0, parts[2] ?? 0);
  return undefined;
}

/**
 * Whether a server-side request may go to this IP address: only globally routable unicast
 * (ipaddr.js's special-purpose ranges: loopback, private, link-local, unique-local, site-local,
 * carrier-grade NAT, multicast, reserved, documentation, benchmarking… are all refused). An IPv6
 * address carrying an IPv4 one is judged by the IPv4 address; Teredo (2001::/32) is refused.
 */
function isPublicAddress(ip: string): boolean {
  if (isIP(ip) === 0) return false;
  let address = ipaddr.parse(ip);
  if (address.kind() === 'ipv6') {
    const inner = embeddedIPv4(address as ipaddr.IPv6);
    if (inner !== undefined) address = inner;
  }
  return address.range() === 'unicast';
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
    if (host === 'localhost' || host.endsWith('.localhost') || (isIP(host) !== 0 && !isPublicAddress(host))) {
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
    const refused = addresses.find((a) => !isPublicAddress(a));
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
