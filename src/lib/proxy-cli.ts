// The parts of a proxy's command line that every bin shares.
import { UsageError, type Args } from './cli';
import { ConfigError } from './config';
import { formatFirewall } from './firewall-format';
import type { FirewallStatus } from './firewall';
import { metricsSocketPath } from './metrics-config';
import { requestStatus, requestText } from './status-socket';

/** `<proxy> status [--json] [--control-socket PATH]`: asks the running daemon and prints its status. */
export async function statusCommand<S>(args: Args, defaultSocket: string, format: (status: S) => string): Promise<number> {
  if (args._.length > 1) throw new UsageError(`'status' takes no arguments`);
  const s = (await requestStatus(args['control-socket'] ?? defaultSocket)) as S;
  process.stdout.write(args.json ? JSON.stringify(s, null, 2) + '\n' : format(s) + formatFirewall((s as { firewall?: FirewallStatus }).firewall) + '\n');
  return 0;
}

/** `<proxy> metrics [--control-socket PATH]`: the running daemon's metrics, as Prometheus would read them (with or without --metrics-listen). */
export async function metricsCommand(args: Args, defaultSocket: string): Promise<number> {
  if (args._.length > 1) throw new UsageError(`'metrics' takes no arguments`);
  process.stdout.write(await requestText(metricsSocketPath(args['control-socket'] ?? defaultSocket)));
  return 0;
}

/**
 * With flags, a config error names the flag, not the JSON field it became:
 * `names` maps fields to flags; `fieldPrefix`, when given, may come before a
 * field (udp-proxy's flags make its one rule, "proxy[0].").
 */
export function flagErrors(names: Record<string, string>, fieldPrefix = ''): (err: ConfigError) => string {
  const prefix = fieldPrefix.replace(/[.[\]]/g, '\\$&');
  const field = new RegExp(`^(?:${prefix})?([A-Za-z]+)(\\[\\d+\\])?$`);
  return (err) => {
    const m = field.exec(err.field);
    const flag = m ? names[m[1]] : undefined;
    return flag ? `${flag}: ${err.reason}` : err.message;
  };
}

/**
 * Loads the configuration. Without --config every field came from a flag, so a
 * bad one is the user's command line: a usage error, named as the flag.
 */
export function loadOrUsage<C>(load: () => C, fromFile: boolean, flagMessage: (err: ConfigError) => string = (err) => err.message): C {
  try {
    return load();
  } catch (err) {
    if (err instanceof ConfigError && !fromFile) throw new UsageError(flagMessage(err));
    throw err;
  }
}
