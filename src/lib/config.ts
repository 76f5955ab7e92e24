import fs from 'node:fs';
import { InputError } from './input-error';

// A bad value in a config file; `field` is the path to it ("peers[1]",
// "interfaces.upstream") so the message points at the line to fix.
export class ConfigError extends InputError {
  name = 'ConfigError';
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(field ? `${field}: ${reason}` : reason);
  }
}

export type Validator<T> = (v: unknown, field: string) => T;

// "peers" + 1 -> "peers[1]", "" + "logLevel" -> "logLevel", "a" + "b" -> "a.b"
export function joinField(field: string, key: string | number): string {
  if (typeof key === 'number') return `${field}[${key}]`;
  return field ? `${field}.${key}` : key;
}

// Short rendering of a bad value for messages.
export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 40 ? s.slice(0, 37) + '...' : s;
}

export function loadJsonFile(path: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.message;
    throw new ConfigError(path, `cannot read: ${why}`);
  }
  return parseJson(text, path);
}

export function parseJson(text: string, name: string): unknown {
  // Editors on Windows like to add a byte order mark; JSON.parse refuses it.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text);
  } catch (err) {
    // V8's wording is fine but its position is an offset (or missing, or a
    // snippet of the file), so we find the position ourselves.
    const msg = (err as Error).message.replace(/ in JSON at position \d+.*$/s, '').replace(/, (".*)?" is not valid JSON$/s, '');
    const { line, column } = lineColumn(text, jsonErrorOffset(text));
    throw new ConfigError(name, `invalid JSON: ${msg} at line ${line} column ${column}`);
  }
}

export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: offset - start + 1 };
}

// Offset of the first character that makes `text` invalid JSON (RFC 8259),
// text.length when it ends too early, -1 when it is valid.
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const fail = (): never => {
    throw i;
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const eat = (c: string) => (text[i] === c ? i++ : fail());
  const digits = () => {
    if (!/[0-9]/.test(text[i] || '')) fail();
    while (/[0-9]/.test(text[i] || '')) i++;
  };
  const string = () => {
    eat('"');
    for (;;) {
      if (i >= text.length || text.charCodeAt(i) < 0x20) fail();
      const c = text[i++];
      if (c === '"') return;
      if (c !== '\\') continue;
      const e = text[i];
      if (e === 'u') {
        i++;
        for (let k = 0; k < 4; k++, i++) if (!/[0-9a-fA-F]/.test(text[i] || '')) fail();
      } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i++;
      else fail();
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        string();
        ws();
        eat(':');
        value();
        ws();
        if (text[i] === '}') return void i++;
        eat(',');
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ']') return void i++;
        eat(',');
      }
    }
    if (c === '"') return string();
    for (const word of ['true', 'false', 'null']) {
      if (c === word[0]) {
        for (const w of word) eat(w);
        return;
      }
    }
    if (c === '-') i++;
    if (text[i] === '0') i++;
    else digits();
    if (text[i] === '.') {
      i++;
      digits();
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      digits();
    }
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
    return -1;
  } catch (at) {
    return Math.min(at as number, text.length);
  }
}

export function int(v: unknown, field: string, opts: { min?: number; max?: number } = {}): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ConfigError(field, `expected an integer, got ${show(v)}`);
  const min = opts.min ?? -Infinity;
  const max = opts.max ?? Infinity;
  if (v < min || v > max) throw new ConfigError(field, `${v} is out of range ${range(min, max)}`);
  return v;
}

function range(min: number, max: number): string {
  if (max === Infinity) return `${min} or more`;
  if (min === -Infinity) return `${max} or less`;
  return `${min}..${max}`;
}

// Empty strings are refused unless asked for: in a config they are a mistake
// far more often than a meaningful value.
export function str(v: unknown, field: string, opts: { empty?: boolean; max?: number } = {}): string {
  if (typeof v !== 'string') throw new ConfigError(field, `expected a string, got ${show(v)}`);
  if (!v && !opts.empty) throw new ConfigError(field, 'must not be empty');
  if (opts.max !== undefined && v.length > opts.max) {
    throw new ConfigError(field, `${show(v)} is longer than ${opts.max} characters`);
  }
  return v;
}

export function bool(v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') throw new ConfigError(field, `expected true or false, got ${show(v)}`);
  return v;
}

export function oneOf<T extends string | number>(v: unknown, field: string, choices: readonly T[]): T {
  if (!choices.includes(v as T)) {
    throw new ConfigError(field, `expected one of ${choices.map(show).join(', ')}, got ${show(v)}`);
  }
  return v as T;
}

export function array<T>(v: unknown, field: string, item: Validator<T>, opts: { min?: number; max?: number } = {}): T[] {
  if (!Array.isArray(v)) throw new ConfigError(field, `expected an array, got ${show(v)}`);
  if (opts.min !== undefined && v.length < opts.min) {
    throw new ConfigError(field, `needs at least ${opts.min} ${opts.min === 1 ? 'entry' : 'entries'}`);
  }
  if (opts.max !== undefined && v.length > opts.max) {
    throw new ConfigError(field, `has ${v.length} entries, at most ${opts.max} allowed`);
  }
  return v.map((x, i) => item(x, joinField(field, i)));
}

export function object(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new ConfigError(field, `expected an object, got ${show(v)}`);
  }
  return v as Record<string, unknown>;
}

// A typo in an optional key would otherwise silently mean "use the default".
export function rejectUnknownKeys(obj: Record<string, unknown>, field: string, allowed: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw new ConfigError(joinField(field, key), 'unknown key');
  }
}

// `validate(v, field)` when present, else the fallback.
export function optional<T, D = T>(v: unknown, field: string, validate: Validator<T>, fallback: D): T | D {
  return v === undefined ? fallback : validate(v, field);
}

// Linux refuses names of IFNAMSIZ (16) or more bytes, "." and "..", and any
// '/', ':' or whitespace (dev_valid_name). We also refuse '@': `ip link` shows
// VLANs as "eth0.10@eth0" and the part after '@' is not part of the name.
export function interfaceName(v: unknown, field: string): string {
  const name = str(v, field);
  const bad = (why: string) => new ConfigError(field, `${show(name)} is not a valid interface name (${why})`);
  if (Buffer.byteLength(name) > 15) throw bad('at most 15 characters');
  if (name === '.' || name === '..') throw bad('reserved name');
  if (name.includes('@')) throw bad(`use the part before '@', "${name.slice(0, name.indexOf('@'))}"`);
  if (/[\s/:]/.test(name)) throw bad("no '/', ':' or whitespace allowed");
  return name;
}

export function port(v: unknown, field: string): number {
  return int(v, field, { min: 1, max: 65535 });
}
