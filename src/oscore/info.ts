// Text of the plugtest /oscoreInfo resource (resources.md §3.22), as Californium's PlugtestServer OscoreInfo.
import type { OscoreContextStore } from './store.js';

/**
 * The /oscoreInfo text for the store's context of that Recipient ID (default: the first): a blank first line,
 * the expected configuration, the current `ID Context: <HEX>` (upper case, as Californium's hex output;
 * changes after Appendix B.2) and `Client Sender Sequence Number: <n>`, the number the client should use next:
 * the lowest recipient sequence number of the replay window plus its offset, i.e. the highest received + 1.
 */
export function oscoreInfoText(store: OscoreContextStore, recipientId?: Buffer): string {
  const entry = recipientId === undefined ? store.entries[0] : store.entries.find((e) => e.active.recipient.id.equals(recipientId));
  if (entry === undefined) return '\nNo OSCORE context';
  const ctx = entry.active;
  const idContext = ctx.idContext === undefined ? '' : ctx.idContext.toString('hex').toUpperCase();
  return (
    '\nExpected OSCORE configuration: ' +
    '\n(Usage of Appendix B.2 is also possible) ' +
    `\nID Context: ${idContext}` +
    `\nClient Sender Sequence Number: ${ctx.recipient.replay.highest + 1}`
  );
}
