import { isIPv4, isIPv6 } from 'node:net';

/**
 * The one bucket of every client whose `request.ip` is no IP address. Only a proxy we trust
 * (TRUST_PROXY) can hand us such text, copied from a forwarded header; keyed as it is, each
 * spelling would be a fresh limit for a client to mint.
 */
export const INVALID_IP_BUCKET = 'invalid';

/**
 * The per-IP throttle key: an IPv4 address as it is, an IPv6 address by its /64. One subscriber
 * or host usually holds a whole /64, so counting single IPv6 addresses would let one client
 * rotate through 2^64 of them, each with a fresh limit. IPv6 addresses that carry an IPv4
 * address count as that IPv4 address, since whoever holds it holds all of them: IPv4-mapped
 * (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) and 6to4
 * (`2002:AABB:CCDD::/48`, a whole /48 per IPv4 address). Anything else counts as INVALID_IP_BUCKET.
 */
export function ipBucket(ip: string): string {
  const address = ip.replace(/%.*$/, '').toLowerCase();
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return INVALID_IP_BUCKET;
  const g = ipv6Groups(address);
  const zero = (from: number, to: number) => g.slice(from, to).every((group) => group === 0);
  // ::ffff:0:0/96, IPv4-mapped.
  if (zero(0, 5) && g[5] === 0xffff) return ipv4(g[6], g[7]);
  // ::/96, IPv4-compatible (deprecated, still routed by some stacks). Below ::1.0.0.0 are :: and
  // ::1, which are no IPv4 address; they stay IPv6.
  if (zero(0, 6) && g[6] >= 0x100) return ipv4(g[6], g[7]);
  // 64:ff9b::/96, the NAT64 well-known prefix (RFC 6052).
  if (g[0] === 0x64 && g[1] === 0xff9b && zero(2, 6)) return ipv4(g[6], g[7]);
  // 2002::/16, 6to4 (RFC 3056): the 32 bits after the prefix are the site's IPv4 address.
  if (g[0] === 0x2002) return ipv4(g[1], g[2]);
  return `${g
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a dotted IPv4 tail as two groups). */
function ipv6Groups(address: string): number[] {
  let text = address;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups =
    tail === undefined
      ? headGroups
      : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  return groups.map((group) => parseInt(group, 16));
}

function ipv4(hi: number, lo: number): string {
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/**
 * The throttle bucket of a request's client, whose address may be missing (ClientInfo nulls
 * anything that is not an IP): all such clients share the one invalid bucket, so leaving the
 * address out never escapes a per-address limit.
 */
export function clientBucket(ip: string | null | undefined): string {
  return ip ? ipBucket(ip) : INVALID_IP_BUCKET;
}
