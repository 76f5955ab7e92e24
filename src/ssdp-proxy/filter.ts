// ST/NT filters: which searches (by ST) and announcements (by NT) cross the
// relay, per direction. Patterns are case-insensitive with '*' for any run of
// characters: "urn:schemas-upnp-org:device:MediaServer:*". With an allow list
// only what matches it passes; deny always wins.

export interface FilterRule {
  allow: string[];
  deny: string[];
}

export type Filter = (value: string) => boolean;

export function compilePattern(p: string): RegExp {
  const body = p
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 'i');
}

export function compileFilter(rule: FilterRule | undefined): Filter {
  if (!rule || (!rule.allow.length && !rule.deny.length)) return () => true;
  const allow = rule.allow.map(compilePattern);
  const deny = rule.deny.map(compilePattern);
  return (v) => (!allow.length || allow.some((r) => r.test(v))) && !deny.some((r) => r.test(v));
}
