// Running libcoap's coap-client (4.3.x) in tests: a bounded process run and the PDU lines of `-v 6`.
import { execFile } from 'node:child_process';

/** What a coap-client run printed. */
export interface Run {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Runs coap-client `exe` with a wait bound (-B 8) and a hard process timeout; `pre` args come first (e.g. PSK). */
export function runCoapClient(exe: string, args: string[], timeoutMs = 20_000, pre: string[] = []): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(exe, ['-B', '8', ...pre, ...args], { timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; killed?: boolean }) | null;
      if (e && e.killed) return reject(new Error(`${exe} ${args.join(' ')} timed out:\n${stdout}\n${stderr}`));
      if (e && typeof e.code === 'string') return reject(e);
      resolve({ stdout, stderr, code: e ? (e.code as number) : 0 });
    });
  });
}

/** A PDU line printed by coap-client at verbosity 6. */
export interface Pdu {
  type: string;
  code: string;
  mid: number;
  token: string;
  options: string;
  payload: string | undefined;
}

const PDU_RE = /^v:1 t:(CON|NON|ACK|RST) c:(\S+) i:([0-9a-f]{4}) \{([0-9a-f]*)\} \[ ?(.*?) ?\](?: :: '(.*)')?$/;

/** The PDUs of a `-v 6` output, in order. */
export function pdus(stdout: string): Pdu[] {
  const out: Pdu[] = [];
  for (const line of stdout.split('\n')) {
    const m = PDU_RE.exec(line);
    if (m) out.push({ type: m[1]!, code: m[2]!, mid: parseInt(m[3]!, 16), token: m[4]!.toUpperCase(), options: m[5]!, payload: m[6] });
  }
  return out;
}

/** True for a method name as libcoap prints request codes. */
export function isRequestCode(code: string): boolean {
  return /^(GET|POST|PUT|DELETE|FETCH|PATCH|IPATCH)$/.test(code);
}

/** Local time of day as the server formats it (HH:mm:ss). */
export function hhmmss(d: Date): string {
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((v) => String(v).padStart(2, '0')).join(':');
}
