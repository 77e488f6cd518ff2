// DTLS credentials: PSK store, demo PKI, certificate validation, raw public keys and signatures.
export * from './psk-store.js';
export * from './psk-file.js';
export * from './demo-pki.js';
export * from './server-identity.js';
export * from './chain-validation.js';
export * from './raw-public-key.js';
export * from './signature.js';
export * from './x509-info.js';
