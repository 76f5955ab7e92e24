// The parts of a proxy's command line that every bin shares.
import { UsageError } from './cli';
import { ConfigError } from './config';
import { requestStatus } from './status-socket';

/** `<proxy> status`: asks the running daemon and prints its status, as text or JSON. */
export async function printStatus<S>(path: string, json: boolean, format: (status: S) => string): Promise<number> {
  const s = (await requestStatus(path)) as S;
  process.stdout.write(json ? JSON.stringify(s, null, 2) + '\n' : format(s) + '\n');
  return 0;
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
