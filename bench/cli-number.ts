// The number parser of the bench command lines (node:util parseArgs gives strings).

/** `v` as a finite number, or an Error naming the option `--<name>`. */
export function cliNumber(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name}: not a number: ${v}`);
  return n;
}
