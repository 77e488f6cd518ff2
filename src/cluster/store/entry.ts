// The plaintext of a shared connection store entry (issue 12): the connection item of graceful restart
// (src/restart/connection-item.ts, restart.md §2) with the write sequence limit in front of it.
//
// | field          | encoding                                                                                  |
// |----------------|-------------------------------------------------------------------------------------------|
// | version        | 1 byte, 1                                                                                 |
// | sequence limit | 6 bytes: no record of epoch 1 was or will be written with this sequence number or above   |
// |                | by the owner; a node taking over starts writing here (RFC 6347 §4.1, docs/failover.md)    |
// | time mark      | 6 bytes: wall-clock ms of the write (the item's times are relative to it)                 |
// | item           | connection item (version, 2-byte length, content) as in the restart stream                |
import type { Connection } from '../../dtls/connection.js';
import { ByteReader, ByteWriter, StreamError } from '../../restart/bytes.js';
import { itemReadContext, itemWriteContext, readConnectionItem, writeConnectionItem } from '../../restart/connection-item.js';

/** Version byte of an entry's plaintext. */
const ENTRY_VERSION = 1;

/** A decoded entry: the connection (as restored for a restart) and its sequence limit. */
export interface StoreEntry {
  conn: Connection;
  seqLimit: number;
}

/** The plaintext of an entry for `conn` with sequence limit `seqLimit`; throws a StreamError for a connection without keys. */
export function encodeEntry(conn: Connection, seqLimit: number, wallMs: number): Buffer {
  const w = new ByteWriter(256);
  w.u8(ENTRY_VERSION).uint(seqLimit, 6).uint(Math.round(wallMs), 6);
  writeConnectionItem(w, conn, itemWriteContext(wallMs));
  return w.toBuffer();
}

/** Reads an entry's plaintext; `now` is the connector time its activity is shifted to. Throws a StreamError. */
export function decodeEntry(plain: Buffer, now: number): StoreEntry {
  const r = new ByteReader(plain);
  const version = r.uint(1);
  if (version !== ENTRY_VERSION) throw new StreamError(`unsupported store entry version ${version}`);
  const seqLimit = r.uint(6);
  const wallMs = r.uint(6);
  const item = r.item(2);
  if (item === undefined) throw new StreamError('store entry without connection item');
  const conn = readConnectionItem(item.version, item.content, itemReadContext(wallMs, now));
  r.end('store entry');
  return { conn, seqLimit };
}
