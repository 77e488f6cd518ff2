// The root resource `/`: a fixed text banner (resources.md §1.7).
import { Code, Format } from '../../coap/message.js';
import { type Resource, createResource } from '../../coap/resource.js';
import { PRODUCT_NAME } from '../types.js';

const FRAME = '*'.repeat(64);

/** Note the plugtest server adds to its banner: data sent to it is public. */
export const PUBLIC_DATA_NOTE =
  'Note: the data sent to this server is public visible to other\n' +
  "      users! Don't send data, which requires data privacy.";

/** Content of the root banner. */
export interface BannerOptions {
  version: string;
  /** notes, each followed by a blank line (e.g. the public-data note, `COAP_ROOT_RESOURCE_NOTE`) */
  notes?: readonly string[];
  /** footer line(s) before the closing frame (`COAP_ROOT_RESOURCE_FOOTER`) */
  footer?: string;
}

/** Title line: `CoAP RFC 7252` with `extplugtest <version>` right-aligned to 64 characters. */
export function bannerTitle(version: string): string {
  return `CoAP RFC 7252 ${`${PRODUCT_NAME} ${version}`.padStart(50)}`;
}

/** Builds the banner text framed by lines of 64 `*`. */
export function rootBanner(opts: BannerOptions): string {
  let text =
    `${FRAME}\n${bannerTitle(opts.version)}\n${FRAME}\n` +
    'This server re-implements the Eclipse Californium (Cf) plugtest\n' +
    'server; Cf is published under EPL+EDL: http://www.eclipse.org/californium/\n\n';
  for (const note of opts.notes ?? []) text += `${note}\n\n`;
  text += `(c) ${PRODUCT_NAME} contributors\n`;
  if (opts.footer !== undefined) text += `${opts.footer}\n`;
  return text + FRAME;
}

/** Creates the root resource (name '') answering GET with the banner. */
export function createRootResource(opts: BannerOptions): Resource {
  const banner = rootBanner(opts);
  return createResource('', {
    handlers: { GET: (ex) => ex.respond({ code: Code.CONTENT, payload: banner, format: Format.TEXT }) },
  });
}
