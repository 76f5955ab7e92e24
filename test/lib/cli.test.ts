import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseArgs, runMain, UsageError } from '../../src/lib/cli';

const spec = {
  string: ['config', 'log-level'],
  boolean: ['help', 'foreground'],
  alias: { h: 'help', c: 'config', i: 'interval' },
  repeatable: ['peer'],
  integer: ['interval'],
};

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.instance(err, UsageError);
    return (err as Error).message;
  }
  throw new Error('expected a UsageError');
}

test('parses known flags, aliases and positionals', () => {
  const args = parseArgs(['run', '-c', '/data/x.json', '--foreground', '--interval=30'], spec);
  assert.equal(args._, ['run']);
  assert.is(args.config, '/data/x.json');
  assert.is(args.c, '/data/x.json');
  assert.is(args.foreground, true);
  assert.is(args.interval, 30);
  assert.is(args.i, 30);
});

test('rejects unknown long and short flags', () => {
  assert.is(usageError(() => parseArgs(['--foo'], spec)), 'unknown option --foo');
  assert.is(usageError(() => parseArgs(['-x'], spec)), 'unknown option -x');
  assert.is(usageError(() => parseArgs(['--no-bar'], spec)), 'unknown option --no-bar');
});

test('flags known only through default are accepted', () => {
  const args = parseArgs(['--port', '9'], { default: { port: 1900 }, integer: ['port'] });
  assert.is(args.port, 9);
  assert.is(parseArgs([], { default: { port: 1900 }, integer: ['port'] }).port, 1900);
});

test('repeatable flags are always arrays', () => {
  assert.equal(parseArgs([], spec).peer, []);
  assert.equal(parseArgs(['--peer', 'a'], spec).peer, ['a']);
  assert.equal(parseArgs(['--peer', 'a', '--peer=b'], spec).peer, ['a', 'b']);
});

test('aliases of a repeatable flag keep order across spellings', () => {
  const args = parseArgs(['-p', 'a', '--peer', 'b', '-p=c'], { repeatable: ['peer'], string: ['peer'], alias: { p: 'peer' } });
  assert.equal(args.peer, ['a', 'b', 'c']);
  assert.equal(args.p, ['a', 'b', 'c']);
});

test('grouped short flags expand to their long names', () => {
  const args = parseArgs(['-hc', 'x.json'], spec);
  assert.is(args.help, true);
  assert.is(args.config, 'x.json');
  assert.is(usageError(() => parseArgs(['-hx'], spec)), 'unknown option -x');
});

test('arguments after -- are positional', () => {
  assert.equal(parseArgs(['--', '--foo', '-c'], spec)._, ['--foo', '-c']);
});

test('non-repeatable value flags given twice are refused', () => {
  assert.is(usageError(() => parseArgs(['-c', 'a', '--config', 'b'], spec)), 'option --config given more than once');
});

test('integer flags are validated', () => {
  assert.is(usageError(() => parseArgs(['--interval', '12a'], spec)), 'option --interval expects an integer, got "12a"');
  assert.is(usageError(() => parseArgs(['-i', '0x10'], spec)), 'option --interval expects an integer, got "0x10"');
  assert.is(usageError(() => parseArgs(['--interval=1e3'], spec)), 'option --interval expects an integer, got "1e3"');
  assert.is(parseArgs(['--interval=-5'], spec).interval, -5);
});

test('repeatable integers give an array of numbers', () => {
  const args = parseArgs(['--port', '1', '--port', '2'], { repeatable: ['port'], integer: ['port'] });
  assert.equal(args.port, [1, 2]);
});

test('string flags without a value are refused', () => {
  assert.is(usageError(() => parseArgs(['--config'], spec)), 'option --config needs a value');
  assert.is(usageError(() => parseArgs(['--config', '--foreground'], spec)), 'option --config needs a value');
  assert.is(usageError(() => parseArgs(['--log-level='], spec)), 'option --log-level needs a value');
  assert.is(usageError(() => parseArgs(['--interval'], spec)), 'option --interval needs a value');
});

test('anyValue options take the next word even when it starts with a dash (getopt)', () => {
  const any = { ...spec, string: [...spec.string, 'name'], alias: { ...spec.alias, n: 'name' }, anyValue: ['name'] };
  assert.is(parseArgs(['-n', '-x'], any).name, '-x');
  assert.is(parseArgs(['--name', '--foreground'], any).name, '--foreground');
  assert.is(parseArgs(['-hn', '-'], any).name, '-');
  assert.is(parseArgs(['--name=-y', '--foreground'], any).foreground, true);
  assert.is(usageError(() => parseArgs(['-n'], any)), 'option --name needs a value');
  // Options not listed keep refusing a missing value.
  assert.is(usageError(() => parseArgs(['--config', '--foreground'], any)), 'option --config needs a value');
});

function recorder() {
  const rec = { err: '', code: -1 };
  const io = { stderr: (s: string) => void (rec.err += s), exit: (c: number) => void (rec.code = c) };
  return { rec, io };
}

test('runMain: usage error prints hint and exits 2', async () => {
  const { rec, io } = recorder();
  await runMain('mld-proxy', () => {
    throw new UsageError('unknown option --foo');
  }, io);
  assert.is(rec.err, "ERROR: unknown option --foo\nRun 'mld-proxy --help' for usage.\n");
  assert.is(rec.code, 2);
});

test('runMain: runtime error exits 1 without usage hint', async () => {
  const { rec, io } = recorder();
  await runMain('mld-proxy', async () => {
    throw new Error('cannot open tun device');
  }, io);
  assert.is(rec.err, 'ERROR: cannot open tun device\n');
  assert.is(rec.code, 1);
});

test('runMain: success sets process.exitCode and does not exit', async () => {
  const { rec, io } = recorder();
  const saved = process.exitCode;
  try {
    await runMain('x', async () => 3, io);
    assert.is(process.exitCode, 3);
    await runMain('x', () => {}, io);
    assert.is(process.exitCode, 0);
  } finally {
    process.exitCode = saved;
  }
  assert.is(rec.code, -1);
  assert.is(rec.err, '');
});

test.run();
