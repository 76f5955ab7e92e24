// The firewall part of every proxy's `status` (and so of `udm-proxies doctor`):
// what is open, whether it is kept there, and, when the owner turned it off on a
// UniFi gateway, the rule to add in UniFi's own settings instead.
import type { FamilyStatus, FirewallStatus } from './firewall';

function family(name: string, f: FamilyStatus): string[] {
  const lines = [`  ${name}: ${f.state}`];
  if (f.active) for (const r of f.rules) lines.push(`    ${r}`);
  return lines;
}

export function formatFirewall(s: FirewallStatus | undefined): string {
  if (!s) return '';
  const put = s.putBack ? `; put back ${s.putBack} time${s.putBack === 1 ? '' : 's'} after UniFi rebuilt its firewall, last ${new Date(s.lastPutBack!).toISOString()}` : '';
  const lines = [`firewall: ${s.mode} (chain ${s.chain})${put}`, ...family('IPv4', s.ipv4), ...family('IPv6', s.ipv6)];
  if (s.lastError) lines.push(`  last error: ${s.lastError}`);
  const wanted = [...new Set([...s.ipv4.rules, ...s.ipv6.rules])];
  if (s.mode === 'off' && (s.ipv4.unifi || s.ipv6.unifi) && wanted.length) {
    lines.push(
      "  UniFi's firewall drops what arrives from the internet and from VPNs it classes as WAN,",
      '  and this proxy opens nothing (firewall off). Unless a rule of yours already lets them in,',
      '  add in UniFi Network: Settings > Security > Firewall (Policy Engine: a policy from the',
      "  External zone, or the VPN's zone, to the Gateway zone), Action Allow, Protocol UDP:",
      ...wanted.map((r) => `    ${r}`),
      '  or run it with --firewall auto ("firewall": "auto" in its config file), the default.',
    );
  }
  return '\n' + lines.join('\n');
}
