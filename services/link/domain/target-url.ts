// What may be shortened: absolute http(s) URLs, bounded in length, without
// credentials, and (unless configured otherwise) not pointing at private,
// loopback or link-local addresses or at single-label intranet names.
import { hash } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { linkErrors } from '../errors.ts';

export interface TargetPolicy {
  maxLength: number;
  allowPrivateTargets: boolean;
}

const PRIVATE = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv6');
}

/**
 * The IPv4 address an IPv6 address carries, in the forms that reach it:
 * IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64
 * (64:ff9b::a.b.c.d) and 6to4 (2002:AABB:CCDD::).
 */
function embeddedIpv4(ipv6: string): string | undefined {
  const dotted = /^(::ffff:|::|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/i.exec(ipv6)?.[2];
  if (dotted) return dotted;
  const hex = (high: string, low: string) => {
    const h = Number.parseInt(high, 16);
    const l = Number.parseInt(low, 16);
    return `${h >> 8}.${h & 255}.${l >> 8}.${l & 255}`;
  };
  const tail = /^(::ffff:|::|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(ipv6);
  if (tail) return hex(tail[2] as string, tail[3] as string);
  const sixToFour = /^2002:([0-9a-f]{1,4}):([0-9a-f]{1,4})(:|$)/i.exec(ipv6);
  if (sixToFour) return hex(sixToFour[1] as string, sixToFour[2] as string);
  return undefined;
}

const LOCAL_SUFFIXES = ['.localhost', '.local', '.internal', '.lan', '.home.arpa'];

function isPrivateHost(hostname: string): boolean {
  const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  const version = isIP(host);
  if (version === 4) return PRIVATE.check(host, 'ipv4');
  if (version === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host)?.[1];
    if (mapped) return PRIVATE.check(mapped, 'ipv4');
    const embedded = embeddedIpv4(host);
    if (embedded && PRIVATE.check(embedded, 'ipv4')) return true;
    return PRIVATE.check(host, 'ipv6');
  }
  const name = host.replace(/\.$/, '');
  if (name === 'localhost' || !name.includes('.')) return true;
  return LOCAL_SUFFIXES.some((suffix) => name.endsWith(suffix));
}

/** Checks a requested target and returns it normalised (as the WHATWG URL parser writes it). */
export function checkTarget(raw: string, policy: TargetPolicy): string {
  if (raw.length === 0) throw linkErrors.invalid_url('missing');
  if (raw.length > policy.maxLength) throw linkErrors.url_too_long({ max: policy.maxLength });
  // The URL parser silently strips tabs, newlines and surrounding spaces; a
  // target containing them is refused rather than quietly changed.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
  if (/[\u0000-\u0020\u007f]/.test(raw)) {
    throw linkErrors.invalid_url('whitespace');
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw linkErrors.invalid_url('not_absolute');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw linkErrors.unsupported_scheme();
  }
  if (url.username || url.password) {
    throw linkErrors.url_has_credentials();
  }
  if (!url.hostname) throw linkErrors.invalid_url('no_host');
  if (!policy.allowPrivateTargets && isPrivateHost(url.hostname)) {
    throw linkErrors.private_target();
  }
  const normalised = url.href;
  if (normalised.length > policy.maxLength) {
    throw linkErrors.url_too_long({ max: policy.maxLength });
  }
  return normalised;
}

/** Key of the (owner, URL) uniqueness: SHA-256 of the normalised URL, hex. */
export function urlHash(normalised: string): string {
  return hash('sha256', normalised);
}
