// Client addresses are stored anonymised: an address keeps only its network
// prefix (by default an IPv4 /24 and an IPv6 /48, the usual choice of web
// analytics), the rest set to zero. Both families are kept, never dropped.
import { isIPv4, isIPv6 } from 'node:net';

export interface AddressPrefixes {
  /** Bits of an IPv4 address kept, 0 to 32 (32 keeps it whole). */
  ipv4: number;
  /** Bits of an IPv6 address kept, 0 to 128. */
  ipv6: number;
}

export const DEFAULT_PREFIXES: AddressPrefixes = { ipv4: 24, ipv6: 48 };

function keepBits(bytes: number[], bits: number): number[] {
  return bytes.map((byte, i) => {
    const kept = Math.min(8, Math.max(0, bits - i * 8));
    return byte & ((0xff << (8 - kept)) & 0xff);
  });
}

function ipv4Bytes(text: string): number[] {
  return text.split('.').map(Number);
}

/** The 16 bytes of an IPv6 address (an embedded IPv4 tail included). */
function ipv6Bytes(text: string): number[] {
  let address = text;
  const tail: number[] = [];
  const lastColon = address.lastIndexOf(':');
  if (address.includes('.', lastColon)) {
    tail.push(...ipv4Bytes(address.slice(lastColon + 1)));
    address = `${address.slice(0, lastColon + 1)}0:0`;
  }
  const [head = '', rest] = address.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const missing = 8 - left.length - right.length;
  const all = [...left, ...Array<string>(rest === undefined ? 0 : missing).fill('0'), ...right];
  const bytes = all.flatMap((group) => {
    const value = Number.parseInt(group, 16);
    return [value >> 8, value & 0xff];
  });
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

function formatIpv6(bytes: number[]): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  // RFC 5952: the longest run (of two or more) of zero groups becomes `::`.
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length && j - i >= 2) best = { start: i, length: j - i };
    i = j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (best.start < 0) return hex.join(':');
  const left = hex.slice(0, best.start).join(':');
  const right = hex.slice(best.start + best.length).join(':');
  return `${left}::${right}`;
}

const IPV4_MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/**
 * The address with only its configured prefix kept. An IPv4-mapped IPv6
 * address is treated as the IPv4 address it carries; a zone (`%eth0`) is
 * dropped. Text that is no address at all becomes empty: it cannot be
 * anonymised, so it is not kept.
 */
export function anonymiseAddress(text: string, prefixes: AddressPrefixes): string {
  const address = text.trim().replace(/%.*$/, '');
  const mapped = IPV4_MAPPED.exec(address)?.[1];
  if (mapped !== undefined && isIPv4(mapped)) return anonymiseAddress(mapped, prefixes);
  if (isIPv4(address)) return keepBits(ipv4Bytes(address), prefixes.ipv4).join('.');
  if (isIPv6(address)) return formatIpv6(keepBits(ipv6Bytes(address), prefixes.ipv6));
  return '';
}
