// X.509 fields node:crypto does not expose in usable form (RFC 5280 §4.1, §4.2): names as RFC 2253
// strings, validity dates, basic constraints, key usage, EKU, SANs and the signature algorithm.
import {
  decodeOid,
  decodeSmallInteger,
  decodeTime,
  DerTag,
  expectTag,
  readChildren,
  readDer,
  type DerElement,
} from './der.js';

/** RFC 5280 §4.2.1.3 key usage bit names, index = bit number. */
export const KEY_USAGE_BITS = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;

/** One key usage name (RFC 5280 §4.2.1.3). */
export type KeyUsage = (typeof KEY_USAGE_BITS)[number];

/** OIDs of extended key usages (RFC 5280 §4.2.1.12). */
export const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
/** id-kp-clientAuth (RFC 5280 §4.2.1.12). */
export const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/** One subjectAltName entry (RFC 5280 §4.2.1.6); IPs in textual form (IPv6 RFC 5952 compressed). */
export interface SubjectAltName {
  type: 'dns' | 'ip' | 'email' | 'uri' | 'other';
  value: string;
}

/** Parsed certificate fields used by chain validation and identity selection. */
export interface CertificateInfo {
  /** subject in RFC 2253 form, e.g. `CN=cf-client,OU=Californium,O=Eclipse IoT,L=Ottawa,C=CA` */
  subject: string;
  /** issuer in RFC 2253 form */
  issuer: string;
  /** DER of the subject Name (for exact issuer/subject matching) */
  subjectDer: Buffer;
  /** DER of the issuer Name */
  issuerDer: Buffer;
  notBefore: Date;
  notAfter: Date;
  /** absent when the extension is absent */
  basicConstraints?: { ca: boolean; pathLength?: number };
  /** absent when the extension is absent (then every usage is allowed) */
  keyUsage?: ReadonlySet<KeyUsage>;
  /** EKU OIDs; absent when the extension is absent */
  extendedKeyUsage?: readonly string[];
  subjectAltNames: readonly SubjectAltName[];
  /** OID of the certificate's signatureAlgorithm */
  signatureAlgorithmOid: string;
  /** OIDs of critical extensions this reader does not understand */
  unknownCriticalExtensions: readonly string[];
}

// Java X500Principal.getName(RFC2253) keywords; other attribute types print as dotted OID + #hex.
const RFC2253_KEYWORDS: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'STREET',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
};

// Extensions understood here or irrelevant to path validation when critical.
const KNOWN_EXTENSIONS = new Set([
  '2.5.29.14', // subjectKeyIdentifier
  '2.5.29.15', // keyUsage
  '2.5.29.17', // subjectAltName
  '2.5.29.18', // issuerAltName
  '2.5.29.19', // basicConstraints
  '2.5.29.32', // certificatePolicies (no policy processing: any policy accepted)
  '2.5.29.35', // authorityKeyIdentifier
  '2.5.29.37', // extKeyUsage
]);

/** Parses the fields above from a certificate's DER; throws on malformed input. */
export function parseCertificateInfo(der: Buffer): CertificateInfo {
  const cert = expectTag(readDer(der), DerTag.sequence, 'Certificate');
  if (cert.end !== der.length) throw new Error('DER: trailing bytes after Certificate');
  const [tbsElement, sigAlg] = readChildren(cert);
  const tbs = readChildren(expectTag(tbsElement, DerTag.sequence, 'TBSCertificate'));
  const signatureAlgorithmOid = decodeOid(
    expectTag(readChildren(expectTag(sigAlg, DerTag.sequence, 'AlgorithmIdentifier'))[0], DerTag.oid, 'OID').value,
  );
  let i = 0;
  if (tbs[i]?.tag === 0xa0) i++; // [0] EXPLICIT version
  i++; // serialNumber
  i++; // signature AlgorithmIdentifier
  const issuerEl = expectTag(tbs[i++], DerTag.sequence, 'issuer Name');
  const validity = readChildren(expectTag(tbs[i++], DerTag.sequence, 'Validity'));
  const subjectEl = expectTag(tbs[i++], DerTag.sequence, 'subject Name');
  expectTag(tbs[i++], DerTag.sequence, 'SubjectPublicKeyInfo');
  const info: CertificateInfo = {
    subject: nameToRfc2253(subjectEl),
    issuer: nameToRfc2253(issuerEl),
    subjectDer: subjectEl.raw,
    issuerDer: issuerEl.raw,
    notBefore: decodeTime(validity[0] ?? fail('notBefore')),
    notAfter: decodeTime(validity[1] ?? fail('notAfter')),
    subjectAltNames: [],
    signatureAlgorithmOid,
    unknownCriticalExtensions: [],
  };
  const extensionsWrapper = tbs.slice(i).find((e) => e.tag === 0xa3);
  if (extensionsWrapper) {
    const extensions = readChildren(expectTag(readChildren(extensionsWrapper)[0], DerTag.sequence, 'Extensions'));
    const unknownCritical: string[] = [];
    for (const ext of extensions) {
      const parts = readChildren(expectTag(ext, DerTag.sequence, 'Extension'));
      const oid = decodeOid(expectTag(parts[0], DerTag.oid, 'extnID').value);
      const critical = parts[1]?.tag === DerTag.boolean && parts[1].value[0] !== 0;
      const value = expectTag(parts[parts.length - 1], DerTag.octetString, 'extnValue').value;
      applyExtension(info, oid, value);
      if (critical && !KNOWN_EXTENSIONS.has(oid)) unknownCritical.push(oid);
    }
    info.unknownCriticalExtensions = unknownCritical;
  }
  return info;
}

function fail(what: string): never {
  throw new Error(`DER: missing ${what}`);
}

function applyExtension(info: CertificateInfo, oid: string, value: Buffer): void {
  switch (oid) {
    case '2.5.29.19': {
      const fields = readChildren(expectTag(readDer(value), DerTag.sequence, 'BasicConstraints'));
      let ca = false;
      let pathLength: number | undefined;
      for (const f of fields) {
        if (f.tag === DerTag.boolean) ca = f.value[0] !== 0;
        else if (f.tag === DerTag.integer) pathLength = decodeSmallInteger(f.value);
      }
      info.basicConstraints = pathLength === undefined ? { ca } : { ca, pathLength };
      break;
    }
    case '2.5.29.15': {
      const bits = expectTag(readDer(value), DerTag.bitString, 'KeyUsage').value;
      const usages = new Set<KeyUsage>();
      KEY_USAGE_BITS.forEach((name, bit) => {
        const byte = bits[1 + (bit >> 3)];
        if (byte !== undefined && (byte >> (7 - (bit & 7))) & 1) usages.add(name);
      });
      info.keyUsage = usages;
      break;
    }
    case '2.5.29.37':
      info.extendedKeyUsage = readChildren(expectTag(readDer(value), DerTag.sequence, 'ExtKeyUsage')).map((e) =>
        decodeOid(expectTag(e, DerTag.oid, 'KeyPurposeId').value),
      );
      break;
    case '2.5.29.17':
      info.subjectAltNames = readChildren(expectTag(readDer(value), DerTag.sequence, 'GeneralNames')).map(
        decodeGeneralName,
      );
      break;
    default:
      break;
  }
}

function decodeGeneralName(name: DerElement): SubjectAltName {
  switch (name.tag) {
    case 0x81:
      return { type: 'email', value: name.value.toString('latin1') };
    case 0x82:
      return { type: 'dns', value: name.value.toString('latin1') };
    case 0x86:
      return { type: 'uri', value: name.value.toString('latin1') };
    case 0x87:
      return { type: 'ip', value: formatIp(name.value) };
    default:
      return { type: 'other', value: name.raw.toString('hex') };
  }
}

/** Text form of 4- or 16-byte IP address bytes (IPv6 per RFC 5952, longest zero run compressed). */
export function formatIp(bytes: Buffer): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length !== 16) return bytes.toString('hex');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** RFC 2253 string of a DER Name: RDNs last-to-first, multi-valued RDNs joined by '+'. */
export function nameToRfc2253(name: DerElement): string {
  const rdns = readChildren(expectTag(name, DerTag.sequence, 'Name'));
  return rdns
    .map((rdn) =>
      readChildren(expectTag(rdn, DerTag.set, 'RelativeDistinguishedName'))
        .map((ava) => {
          const [typeEl, valueEl] = readChildren(expectTag(ava, DerTag.sequence, 'AttributeTypeAndValue'));
          const oid = decodeOid(expectTag(typeEl, DerTag.oid, 'AttributeType').value);
          if (valueEl === undefined) throw new Error('DER: missing AttributeValue');
          const keyword = RFC2253_KEYWORDS[oid];
          const text = keyword === undefined ? undefined : decodeDirectoryString(valueEl);
          // RFC 2253 §2.4: unknown types (or non-string values) as '#' + hex of the BER encoding
          return text === undefined ? `${oid}=#${valueEl.raw.toString('hex')}` : `${keyword}=${escapeRfc2253(text)}`;
        })
        .join('+'),
    )
    .reverse()
    .join(',');
}

function decodeDirectoryString(el: DerElement): string | undefined {
  switch (el.tag) {
    case DerTag.utf8String:
      return el.value.toString('utf8');
    case DerTag.printableString:
    case DerTag.ia5String:
    case DerTag.teletexString:
      return el.value.toString('latin1');
    case DerTag.bmpString: {
      const swapped = Buffer.from(el.value);
      swapped.swap16();
      return swapped.toString('utf16le');
    }
    case DerTag.universalString: {
      let out = '';
      for (let i = 0; i + 4 <= el.value.length; i += 4) out += String.fromCodePoint(el.value.readUInt32BE(i));
      return out;
    }
    default:
      return undefined;
  }
}

// Escaping as Java's X500Principal RFC2253 output does it: specials, leading '#'/space, trailing
// space with a backslash; control characters as \XX of their UTF-8 bytes.
function escapeRfc2253(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (',=+<>#;"\\'.includes(c)) {
      out += `\\${c}`;
    } else if (c < ' ' || c === '\x7f') {
      out += `\\${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
    } else if (c === ' ' && (i === 0 || i === text.length - 1)) {
      out += '\\ ';
    } else {
      out += c;
    }
  }
  return out;
}
