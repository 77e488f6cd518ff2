// `/large`: the 1280-byte block-wise test text (resources.md §3.5).
import { Code, Format } from '../../coap/message.js';
import { type Resource, createResource } from '../../coap/resource.js';

function largeBlock(n: number): string {
  return (
    `/${'-'.repeat(61)}\\\n` +
    `|${' '.repeat(17)}RESOURCE BLOCK NO. ${n} OF 5${' '.repeat(19)}|\n` +
    `|${' '.repeat(15)}[each line contains 64 bytes]${' '.repeat(17)}|\n` +
    `\\${'-'.repeat(61)}/\n`
  );
}

/** The 1280-byte text: 20 lines of 64 bytes, 5 blocks of 4 lines. */
export const LARGE_TEXT: string = [1, 2, 3, 4, 5].map(largeBlock).join('');

/** Creates `/large` (GET). */
export function createLargeResource(): Resource {
  return createResource('large', {
    title: 'Large resource',
    attributes: { rt: 'block', sz: '1280' },
    handlers: {
      GET: (ex) => ex.respond({ code: Code.CONTENT, payload: LARGE_TEXT, format: Format.TEXT }),
    },
  });
}
