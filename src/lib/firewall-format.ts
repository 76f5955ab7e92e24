// The firewall part of every proxy's `status` (and so of `udm-proxies doctor`):
// what is open, whether it is kept there, and, when the owner turned it off on a
// UniFi gateway, whether the rules in force let each peer in, and the rule to
// add in UniFi's own settings where not.
import type { FamilyStatus, FirewallStatus } from './firewall';

function family(name: string, f: FamilyStatus): string[] {
  const lines = [`  ${name}: ${f.state}`];
  if (f.active) for (const r of f.rules) lines.push(`    ${r}`);
  for (const r of f.reach ?? []) lines.push(`    ${r.rule}: ${r.why}`);
  return lines;
}

export function formatFirewall(s: FirewallStatus | undefined): string {
  if (!s) return '';
  const put = s.putBack ? `; put back ${s.putBack} time${s.putBack === 1 ? '' : 's'} after UniFi rebuilt its firewall, last ${new Date(s.lastPutBack!).toISOString()}` : '';
  const lines = [`firewall: ${s.mode} (chain ${s.chain})${put}`, ...family('IPv4', s.ipv4), ...family('IPv6', s.ipv6)];
  if (s.lastError) lines.push(`  last error: ${s.lastError}`);
  const missing = [...new Set([...(s.ipv4.reach ?? []), ...(s.ipv6.reach ?? [])].filter((r) => r.letIn !== true).map((r) => r.rule))];
  if (s.mode === 'off' && (s.ipv4.unifi || s.ipv6.unifi) && missing.length) {
    lines.push(
      "  UniFi's firewall drops what arrives from the internet and from VPNs it classes as WAN, and",
      '  this proxy opens nothing (firewall off). To let these peers in, add in UniFi Network:',
      '  Settings > Security > Firewall (with zones: a policy from the External zone, or the',
      "  VPN's zone, to the Gateway zone), Action Allow, with the protocol, port and source of each line:",
      ...missing.map((r) => `    ${r}`),
      '  or let the proxy keep them open itself: --firewall auto ("firewall": "auto"), the default.',
    );
  }
  return '\n' + lines.join('\n');
}
