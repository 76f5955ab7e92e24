// The original's flags, as its users typed them: single-dash multi-letter
// flags (-dp, -cp, -tm) and camelCase long ones, and -m, which the original
// client reads as the MTU while the usage reads it as the netmask. A
// number is an MTU, anything else a netmask, so both spellings keep working.
const REWRITE: Record<string, string> = {
  '-dp': '--data-port',
  '--dataPort': '--data-port',
  '-cp': '--control-port',
  '--controlPort': '--control-port',
  '-tm': '--netmask',
  '--mask': '--netmask',
  '--operation': '--op',
};

export function rewriteOriginalFlags(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const eq = a.indexOf('=');
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const rest = eq > 0 ? a.slice(eq) : '';
    if (REWRITE[flag]) {
      out.push(REWRITE[flag] + rest);
    } else if (flag === '-m') {
      const value = eq > 0 ? a.slice(eq + 1) : argv[i + 1];
      if (eq < 0) i++;
      if (value === undefined) out.push('--mtu');
      else out.push(/^[0-9]+$/.test(value) && Number(value) > 32 ? '--mtu' : '--netmask', value);
    } else {
      out.push(a);
    }
  }
  return out;
}
