import { isIP } from 'node:net';

/** A parsed `host:port` or `[v6]:port` upstream address. */
export interface UpstreamAddress {
  /** Host name or IP literal, without brackets. */
  host: string;
  /** UDP port, 1..65535. */
  port: number;
  /** 4 or 6 for an IP literal, 0 for a host name that needs resolving. */
  family: 0 | 4 | 6;
}

/**
 * Parses an upstream address: `host:port`, `1.2.3.4:port` or `[v6]:port`.
 * Returns an error message instead of throwing so option validation can name the option.
 */
export function parseUpstream(value: unknown): UpstreamAddress | string {
  if (typeof value !== 'string') return `expected a "host:port" string, got ${typeof value}`;
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(value)?.[1];
  if (scheme !== undefined) {
    return `"${value}": a URL scheme ("${scheme}://") is not expected; write "host:port" or "[v6]:port"`;
  }
  let host: string;
  let portText: string;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0 || value[close + 1] !== ':') return `"${value}" is not "[v6-address]:port"`;
    host = value.slice(1, close);
    portText = value.slice(close + 2);
    if (isIP(host) !== 6) return `"${host}" in "${value}" is not an IPv6 address`;
  } else {
    const colon = value.lastIndexOf(':');
    if (colon <= 0) return `"${value}" has no ":port"`;
    host = value.slice(0, colon);
    portText = value.slice(colon + 1);
    if (host.includes(':')) return `"${value}": write IPv6 addresses as "[address]:port"`;
    if (!/^[A-Za-z0-9.-]+$/.test(host)) return `"${host}" in "${value}" is not a host name`;
  }
  if (!/^[0-9]{1,5}$/.test(portText)) return `port "${portText}" in "${value}" is not a number`;
  const port = Number(portText);
  if (port < 1 || port > 65535) return `port ${port} in "${value}" is not in 1..65535`;
  const fam = isIP(host);
  return { host, port, family: fam === 4 ? 4 : fam === 6 ? 6 : 0 };
}

/** Canonical text of an IP address, so `2001:db8:0::1` and `2001:db8::1` compare equal. */
export function canonicalIp(address: string): string {
  if (isIP(address) !== 6) return address;
  const zone = address.indexOf('%');
  const bare = zone < 0 ? address : address.slice(0, zone);
  try {
    return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  } catch {
    return address;
  }
}
