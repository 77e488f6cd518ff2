// Text building blocks of the plugtest payloads: request summary lines, token hex, times of day.
import { type CoapMessage, TYPE_NAMES, codeName } from '../coap/message.js';

/** Token as uppercase hex without separators (empty token → empty string). */
export function tokenHex(token: Buffer): string {
  return token.toString('hex').toUpperCase();
}

/** `Type: T (TN)\nCode: C (CN)\nMID: MID` of a request. */
export function requestSummary(request: CoapMessage): string {
  return (
    `Type: ${request.type} (${TYPE_NAMES[request.type]})\n` +
    `Code: ${request.code} (${codeName(request.code)})\n` +
    `MID: ${request.mid}`
  );
}

function two(n: number): string {
  return String(n).padStart(2, '0');
}

/** Local time of day `HH:mm:ss`. */
export function formatTimeOfDay(ms: number): string {
  const d = new Date(ms);
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Local time `dd.MMM-HH:mm:ss` (English month abbreviation), as used by `/echo` children. */
export function formatDayTime(ms: number): string {
  const d = new Date(ms);
  return `${two(d.getDate())}.${MONTHS[d.getMonth()]}-${formatTimeOfDay(ms)}`;
}
