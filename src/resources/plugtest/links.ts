// `/link1`, `/link2`, `/link3`: method-less resources for the link-format filter tests (resources.md §3.17).
import { type Resource, createResource } from '../../coap/resource.js';

/** Creates the three link test resources (no handlers → every method 4.05). */
export function createLinkResources(): Resource[] {
  const link = (name: string, iface: string, rt: string[]): Resource =>
    createResource(name, { title: 'Link test resource', attributes: { if: iface, rt } });
  return [
    link('link1', 'If1', ['Type1', 'Type2']),
    link('link2', 'If2', ['Type2', 'Type3']),
    link('link3', 'foo', ['Type1', 'Type3']),
  ];
}
