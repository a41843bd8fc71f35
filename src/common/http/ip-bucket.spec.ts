import { describe, expect, it } from '@jest/globals';
import { clientBucket, INVALID_IP_BUCKET, ipBucket } from './ip-bucket.js';

describe('ipBucket', () => {
  it.each([
    ['203.0.113.9', '203.0.113.9'],
    ['::ffff:203.0.113.9', '203.0.113.9'],
    ['::ffff:c000:280', '192.0.2.128'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::6', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002:ffff::1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['2001:db8:1:2:3:4:1.2.3.4', '2001:db8:1:2::/64'],
    ['::1', '0:0:0:0::/64'],
    ['::', '0:0:0:0::/64'],
  ])('%s → %s', (ip, bucket) => {
    expect(ipBucket(ip)).toBe(bucket);
  });

  // Each spelling of an IPv6 address that carries an IPv4 address is that IPv4 address's bucket:
  // otherwise one IPv4 client would get a limit of its own for each of them.
  it.each([
    ['IPv4-compatible', '::203.0.113.9'],
    ['IPv4-compatible, in hex', '::cb00:7109'],
    ['IPv4-compatible, spelled out', '0:0:0:0:0:0:203.0.113.9'],
    ['NAT64', '64:ff9b::203.0.113.9'],
    ['NAT64, in hex', '64:FF9B::CB00:7109'],
    ['NAT64, spelled out', '0064:ff9b:0:0:0:0:cb00:7109'],
    ['6to4, the router', '2002:cb00:7109::1'],
    ['6to4, a host on a subnet of it', '2002:cb00:7109:42:a:b:c:d'],
    ['6to4, upper case', '2002:CB00:7109::'],
  ])('%s (%s) counts as 203.0.113.9', (_kind, ip) => {
    expect(ipBucket(ip)).toBe('203.0.113.9');
  });

  it('keeps addresses near those prefixes in their own /64', () => {
    expect(ipBucket('64:ff9b:1::cb00:7109')).toBe('64:ff9b:1:0::/64');
    expect(ipBucket('2003:cb00:7109::1')).toBe('2003:cb00:7109:0::/64');
  });

  it.each([
    'not an address',
    '',
    'unknown',
    '203.0.113.9.evil',
    '203.0.113.256',
    '2001:db8::1::2',
    '::ffff:203.0.113.9:80',
    ' 203.0.113.9',
    'a'.repeat(1000),
  ])('puts %j, which is no IP address, in the one invalid bucket', (text) => {
    expect(ipBucket(text)).toBe(INVALID_IP_BUCKET);
  });
});

describe('clientBucket', () => {
  it('puts a client without a usable address in the invalid bucket, others in their own', () => {
    expect(clientBucket(null)).toBe(INVALID_IP_BUCKET);
    expect(clientBucket(undefined)).toBe(INVALID_IP_BUCKET);
    expect(clientBucket('')).toBe(INVALID_IP_BUCKET);
    expect(clientBucket('2001:db8:1:2::5')).toBe('2001:db8:1:2::/64');
  });
});
