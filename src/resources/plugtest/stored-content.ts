// Shared GET for resources holding one stored payload and format (`/large-update`, `/large-create/<n>`).
import { Code } from '../../coap/message.js';
import { accept } from '../../coap/options.js';
import type { Exchange } from '../../coap/resource.js';
import { onlyFormat } from '../responses.js';

/** Accept present and ≠ stored format → 4.06 `<mime> only`; else 2.05 with payload and format. */
export function respondStored(ex: Exchange, payload: Buffer, format: number): void {
  const acc = accept(ex.request);
  if (acc !== undefined && acc !== format) ex.respond(onlyFormat(format));
  else ex.respond({ code: Code.CONTENT, payload, format });
}
