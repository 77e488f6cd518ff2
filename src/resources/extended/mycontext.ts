// `/mycontext`: connection and DTLS (or TLS) context of the request in text, JSON, XML or CBOR (resources.md §2.7).
import { Code, Format } from '../../coap/message.js';
import { accept } from '../../coap/options.js';
import type { EndpointContext } from '../../transport/connector.js';
import { type Resource, createResource } from '../../coap/resource.js';
import { encodeCbor } from '../cbor.js';
import { typeNotSupported } from '../responses.js';
import { PRODUCT_NAME } from '../types.js';

/** One context field: name and a text, number or boolean value. */
export type ContextField = [name: string, value: string | number | boolean];

function hex(b: Buffer): string {
  return b.toString('hex').toUpperCase();
}

/** The fields of §2.7 in their fixed order, each only when available. */
export function contextFields(ctx: EndpointContext, version: string): ContextField[] {
  const fields: ContextField[] = [
    ['ip', ctx.address],
    ['port', ctx.port],
  ];
  const d = ctx.dtls;
  if (d) {
    if (d.nodeId !== undefined) fields.push(['node-id', String(d.nodeId)]);
    if (d.peerIdentity !== undefined) fields.push(['peer', d.peerIdentity]);
    fields.push(['cipher-suite', d.cipherSuite]);
    const sessionId = d.sessionId.length > 0 ? d.sessionId : Buffer.from(`TIME:${d.sessionTime}`, 'ascii');
    fields.push(['session-id', hex(sessionId)]);
    if (d.readCid !== undefined) fields.push(['read-cid', hex(d.readCid)]);
    if (d.writeCid !== undefined) fields.push(['write-cid', hex(d.writeCid)]);
    if (d.via !== undefined) fields.push(['via', d.via]);
    if (d.takeoverFrom !== undefined) fields.push(['takeover', `from node ${d.takeoverFrom}`]);
    if (d.secureRenegotiation) fields.push(['secure-renegotiation', true]);
    if (d.extendedMasterSecret) fields.push(['ext-master-secret', true]);
    fields.push(['newest-record', d.newestRecord]);
    fields.push(['message-size-limit', d.messageSizeLimit]);
    if (d.prevAddress !== undefined) {
      fields.push(['prev-ip', d.prevAddress]);
      if (d.prevPort !== undefined) fields.push(['prev-port', d.prevPort]);
    }
  }
  // coaps+tcp (RFC 8323): the TLS session, in the DTLS fields' names where they mean the same
  const t = ctx.tls;
  if (t) {
    if (t.peerIdentity !== undefined) fields.push(['peer', t.peerIdentity]);
    fields.push(['cipher-suite', t.cipherSuite]);
    fields.push(['tls-version', t.protocol]);
    // as for DTLS: an empty id (session tickets, TLS 1.3) shows the stand-in `TIME:<ms of the handshake>`
    if (t.sessionId.length > 0) fields.push(['session-id', hex(t.sessionId)]);
    else if (t.sessionTime !== undefined) fields.push(['session-id', hex(Buffer.from(`TIME:${t.sessionTime}`, 'ascii'))]);
    if (t.resumed) fields.push(['resumed', true]);
  }
  fields.push(['server', `${PRODUCT_NAME} ${version}`]);
  return fields;
}

/** Text layout: `name: value` lines, no trailing newline. */
export function contextText(fields: readonly ContextField[]): string {
  return fields.map(([n, v]) => `${n}: ${v}`).join('\n');
}

/** JSON layout of the reference (two-blank indent, one field per line). */
export function contextJson(fields: readonly ContextField[]): string {
  const lines = fields.map(([n, v]) => (typeof v === 'string' ? `  "${n}": "${v}"` : `  "${n}": ${v}`));
  return `{\n${lines.join(',\n')}\n}`;
}

/** XML layout: `<context name="value" ... />`. */
export function contextXml(fields: readonly ContextField[]): string {
  return `<context ${fields.map(([n, v]) => `${n}="${v}" `).join('')}/>`;
}

/** CBOR layout: map text key → text / integer / boolean. */
export function contextCbor(fields: readonly ContextField[]): Buffer {
  return encodeCbor(Object.fromEntries(fields));
}

/** Creates `/mycontext`; visible on the extended server, invisible on the plugtest server. */
export function createMyContextResource(version: string, visible: boolean): Resource {
  return createResource('mycontext', {
    title: 'Communication Context',
    attributes: { ct: ['0', '60', '50', '41'] },
    visible,
    handlers: {
      GET: (ex) => {
        const acc = accept(ex.request) ?? Format.TEXT;
        const fields = (): ContextField[] => contextFields(ex.context, version);
        switch (acc) {
          case Format.TEXT:
            ex.respond({ code: Code.CONTENT, payload: contextText(fields()), format: acc });
            return;
          case Format.CBOR:
            ex.respond({ code: Code.CONTENT, payload: contextCbor(fields()), format: acc });
            return;
          case Format.JSON:
            ex.respond({ code: Code.CONTENT, payload: contextJson(fields()), format: acc });
            return;
          case Format.XML:
            ex.respond({ code: Code.CONTENT, payload: contextXml(fields()), format: acc });
            return;
          default:
            ex.respond(typeNotSupported(acc));
        }
      },
    },
  });
}
