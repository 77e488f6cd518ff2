// Hello extensions (RFC 5246 §7.4.1.4): server_name / max_fragment_length (RFC 6066 §3, §4),
// supported_groups / ec_point_formats (RFC 8422 §5.1), signature_algorithms (RFC 5246 §7.4.1.4.1),
// client/server_certificate_type (RFC 7250 §3), extended_master_secret (RFC 7627 §5.1),
// record_size_limit (RFC 8449 §4), connection_id (RFC 9146 §3), renegotiation_info (RFC 5746 §3.2).
// Unknown extensions (also the draft CID code point 53) are kept raw and otherwise ignored.
import { AlertDescription } from './alert.js';
import { ExtensionType, MAX_FRAGMENT_LENGTH_BYTES, MIN_RECORD_SIZE_LIMIT } from './constants.js';
import { type DecodeResult } from './result.js';
import { Reader, decodeWith, failWith, malformed } from './reader.js';
import {
  type SignatureAndHashAlgorithm,
  encodeSignatureAndHashList,
  parseSignatureAndHashList,
} from './signature-and-hash.js';
import { checkLength, u16, u16List, u8, u8List, vector16, vector8 } from './writer.js';

/** Which hello carries the extensions: the client and server forms differ for server_name and the certificate types. */
export type HelloSide = 'client' | 'server';

/** One server_name entry (RFC 6066 §3): name_type (0 = host_name) and the name bytes. */
export interface ServerNameEntry {
  nameType: number;
  name: Buffer;
}

/** An extension kept as received (type and extension_data). */
export interface RawExtension {
  type: number;
  data: Buffer;
}

/**
 * Typed view of a hello's extensions. A field is present iff its extension is. On encode, `order`
 * (wire order of extension types, filled by the decoder) is followed first, then the remaining
 * present extensions in {@link DEFAULT_EXTENSION_ORDER}, then the unknown ones.
 */
export interface HelloExtensions {
  /** wire order of every extension type (known and unknown) */
  order?: number[];
  /** client: the server_name_list; server: always [] (empty extension_data acknowledges SNI) */
  serverName?: ServerNameEntry[];
  /** max_fragment_length code 1..4 (see MAX_FRAGMENT_LENGTH_BYTES) */
  maxFragmentLength?: number;
  /** supported_groups (named group codes, in the sender's preference order) */
  supportedGroups?: number[];
  /** ec_point_formats */
  ecPointFormats?: number[];
  /** signature_algorithms */
  signatureAlgorithms?: SignatureAndHashAlgorithm[];
  /** client_certificate_type: client sends a list, server answers exactly one element */
  clientCertificateTypes?: number[];
  /** server_certificate_type: client sends a list, server answers exactly one element */
  serverCertificateTypes?: number[];
  /** extended_master_secret (empty extension_data) */
  extendedMasterSecret?: boolean;
  /** record_size_limit value (>= 64) */
  recordSizeLimit?: number;
  /** connection_id: the sender's CID, possibly empty (RFC 9146 §3) */
  connectionId?: Buffer;
  /** renegotiation_info renegotiated_connection (empty on an initial handshake) */
  renegotiationInfo?: Buffer;
  /** extensions not understood, kept raw */
  unknown?: RawExtension[];
}

/** Encode order used for present extensions that `order` does not list (Californium's observed order). */
export const DEFAULT_EXTENSION_ORDER: readonly number[] = [
  ExtensionType.SERVER_NAME,
  ExtensionType.MAX_FRAGMENT_LENGTH,
  ExtensionType.SUPPORTED_GROUPS,
  ExtensionType.EC_POINT_FORMATS,
  ExtensionType.SIGNATURE_ALGORITHMS,
  ExtensionType.CLIENT_CERTIFICATE_TYPE,
  ExtensionType.SERVER_CERTIFICATE_TYPE,
  ExtensionType.RECORD_SIZE_LIMIT,
  ExtensionType.EXTENDED_MASTER_SECRET,
  ExtensionType.RENEGOTIATION_INFO,
  ExtensionType.CONNECTION_ID,
];

/** Decodes the content of an extensions<0..2^16-1> vector (without its uint16 length). */
export function decodeHelloExtensions(data: Buffer, side: HelloSide): DecodeResult<HelloExtensions> {
  return decodeWith(() => parseExtensionList(Buffer.from(data), side));
}

/** Encodes the full extensions<0..2^16-1> vector, including its uint16 length. */
export function encodeHelloExtensions(ext: HelloExtensions, side: HelloSide): Buffer {
  const types: number[] = [];
  const blocks: Buffer[] = [];
  let total = 0;
  for (const type of encodeOrder(ext)) {
    const data = encodeExtensionData(ext, type, side);
    if (data === undefined) continue;
    checkLength(data.length, `extension ${type}`, 0, 0xffff);
    types.push(type);
    blocks.push(data);
    total += 4 + data.length;
  }
  checkLength(total, 'extensions', 0, 0xffff);
  // extension_type ‖ extension_data<0..2^16-1>, each written once into the vector
  const out = Buffer.allocUnsafe(2 + total);
  out.writeUInt16BE(total, 0);
  let p = 2;
  for (let i = 0; i < types.length; i++) {
    const data = blocks[i]!;
    out.writeUInt16BE(types[i]!, p);
    out.writeUInt16BE(data.length, p + 2);
    p += 4 + data.copy(out, p + 4);
  }
  return out;
}

/** Reads the optional trailing extensions of a hello (RFC 5246 §7.4.1.2): absent when no bytes remain. */
export function readOptionalExtensions(r: Reader, side: HelloSide): HelloExtensions | undefined {
  if (r.remaining === 0) return undefined;
  const data = r.vector16('extensions');
  r.end('extensions');
  return parseExtensionList(data, side);
}

/** Parses an extension list the caller owns (a copy, or a view of a copy): the values are views of it. */
function parseExtensionList(data: Buffer, side: HelloSide): HelloExtensions {
  const r = new Reader(data, true);
  const ext: HelloExtensions = { order: [], unknown: [] };
  const seen = new Set<number>();
  while (r.remaining > 0) {
    const type = r.u16('extension_type');
    const body = r.vector16(`extension ${type} data`);
    if (seen.has(type)) malformed(`duplicate extension ${type}`);
    seen.add(type);
    ext.order!.push(type);
    parseExtension(ext, type, body, side);
  }
  return ext;
}

function parseExtension(ext: HelloExtensions, type: number, data: Buffer, side: HelloSide): void {
  const r = new Reader(data, true);
  switch (type) {
    case ExtensionType.SERVER_NAME:
      ext.serverName = side === 'server' ? [] : readServerNameList(r);
      break;
    case ExtensionType.MAX_FRAGMENT_LENGTH: {
      const code = r.u8('max_fragment_length');
      if (MAX_FRAGMENT_LENGTH_BYTES[code] === undefined) {
        // RFC 6066 §4: any other value → illegal_parameter
        failWith(AlertDescription.ILLEGAL_PARAMETER, `max_fragment_length code ${code}`);
      }
      ext.maxFragmentLength = code;
      break;
    }
    case ExtensionType.SUPPORTED_GROUPS:
      ext.supportedGroups = readU16List(r, 'named_group_list');
      break;
    case ExtensionType.EC_POINT_FORMATS:
      ext.ecPointFormats = [...r.vector8('ec_point_format_list', 1)];
      break;
    case ExtensionType.SIGNATURE_ALGORITHMS:
      ext.signatureAlgorithms = parseSignatureAndHashList(r.vector16('supported_signature_algorithms', 2, 0xfffe), 'supported_signature_algorithms');
      break;
    case ExtensionType.CLIENT_CERTIFICATE_TYPE:
      ext.clientCertificateTypes = readCertificateTypes(r, side, 'client_certificate_type');
      break;
    case ExtensionType.SERVER_CERTIFICATE_TYPE:
      ext.serverCertificateTypes = readCertificateTypes(r, side, 'server_certificate_type');
      break;
    case ExtensionType.EXTENDED_MASTER_SECRET:
      // RFC 7627 §5.1: extension_data is empty
      ext.extendedMasterSecret = true;
      break;
    case ExtensionType.RECORD_SIZE_LIMIT: {
      const limit = r.u16('record_size_limit');
      // RFC 8449 §4: values below 64 → illegal_parameter
      if (limit < MIN_RECORD_SIZE_LIMIT) failWith(AlertDescription.ILLEGAL_PARAMETER, `record_size_limit ${limit} < 64`);
      ext.recordSizeLimit = limit;
      break;
    }
    case ExtensionType.CONNECTION_ID:
      ext.connectionId = r.vector8('connection_id');
      break;
    case ExtensionType.RENEGOTIATION_INFO:
      ext.renegotiationInfo = r.vector8('renegotiated_connection');
      break;
    default:
      ext.unknown!.push({ type, data });
      return;
  }
  r.end(`extension ${type}`);
}

function readServerNameList(r: Reader): ServerNameEntry[] {
  // RFC 6066 §3: ServerName server_name_list<1..2^16-1>; HostName<1..2^16-1>
  const list = r.sub16('server_name_list', 1);
  const entries: ServerNameEntry[] = [];
  const types = new Set<number>();
  while (list.remaining > 0) {
    const nameType = list.u8('server_name.name_type');
    const name = list.vector16('server_name.name', 1);
    // RFC 6066 §3: no more than one name of the same name_type
    if (types.has(nameType)) failWith(AlertDescription.ILLEGAL_PARAMETER, `duplicate server_name type ${nameType}`);
    types.add(nameType);
    entries.push({ nameType, name });
  }
  return entries;
}

function readU16List(r: Reader, field: string): number[] {
  const data = r.vector16(field, 2, 0xfffe);
  if (data.length % 2 !== 0) malformed(`${field} length ${data.length} is odd`);
  const out: number[] = [];
  for (let i = 0; i < data.length; i += 2) out.push(data.readUInt16BE(i));
  return out;
}

function readCertificateTypes(r: Reader, side: HelloSide, field: string): number[] {
  // RFC 7250 §3: the client sends CertificateType types<1..2^8-1>, the server exactly one CertificateType
  if (side === 'server') return [r.u8(field)];
  return [...r.vector8(`${field} list`, 1)];
}

function encodeOrder(ext: HelloExtensions): number[] {
  const order: number[] = [];
  const add = (t: number): void => {
    if (!order.includes(t)) order.push(t);
  };
  for (const t of ext.order ?? []) add(t);
  for (const t of DEFAULT_EXTENSION_ORDER) add(t);
  for (const u of ext.unknown ?? []) add(u.type);
  return order;
}

function encodeExtensionData(ext: HelloExtensions, type: number, side: HelloSide): Buffer | undefined {
  switch (type) {
    case ExtensionType.SERVER_NAME:
      if (ext.serverName === undefined) return undefined;
      if (side === 'server') return Buffer.alloc(0);
      return vector16(
        Buffer.concat(ext.serverName.map((e) => Buffer.concat([u8(e.nameType), vector16(e.name, 'HostName', 1)]))),
        'server_name_list',
        1,
      );
    case ExtensionType.MAX_FRAGMENT_LENGTH:
      return ext.maxFragmentLength === undefined ? undefined : u8(ext.maxFragmentLength);
    case ExtensionType.SUPPORTED_GROUPS:
      return ext.supportedGroups === undefined
        ? undefined
        : vector16(u16List(ext.supportedGroups), 'named_group_list', 2, 0xfffe);
    case ExtensionType.EC_POINT_FORMATS:
      return ext.ecPointFormats === undefined
        ? undefined
        : vector8(u8List(ext.ecPointFormats, 'ec_point_format'), 'ec_point_format_list', 1);
    case ExtensionType.SIGNATURE_ALGORITHMS:
      return ext.signatureAlgorithms === undefined ? undefined : encodeSignatureAndHashList(ext.signatureAlgorithms);
    case ExtensionType.CLIENT_CERTIFICATE_TYPE:
      return encodeCertificateTypes(ext.clientCertificateTypes, side, 'client_certificate_type');
    case ExtensionType.SERVER_CERTIFICATE_TYPE:
      return encodeCertificateTypes(ext.serverCertificateTypes, side, 'server_certificate_type');
    case ExtensionType.EXTENDED_MASTER_SECRET:
      return ext.extendedMasterSecret ? Buffer.alloc(0) : undefined;
    case ExtensionType.RECORD_SIZE_LIMIT:
      return ext.recordSizeLimit === undefined ? undefined : u16(ext.recordSizeLimit);
    case ExtensionType.CONNECTION_ID:
      return ext.connectionId === undefined ? undefined : vector8(ext.connectionId, 'connection_id');
    case ExtensionType.RENEGOTIATION_INFO:
      return ext.renegotiationInfo === undefined ? undefined : vector8(ext.renegotiationInfo, 'renegotiated_connection');
    default:
      return ext.unknown?.find((u) => u.type === type)?.data;
  }
}

function encodeCertificateTypes(types: number[] | undefined, side: HelloSide, field: string): Buffer | undefined {
  if (types === undefined) return undefined;
  if (side === 'server') {
    if (types.length !== 1) throw new RangeError(`${field} in a ServerHello must carry exactly one type`);
    return u8(types[0]!);
  }
  return vector8(u8List(types, field), `${field} list`, 1);
}
