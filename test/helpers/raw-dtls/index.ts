// The raw DTLS 1.2 PSK test client (imports nothing from src/): record layer, handshake messages, key
// schedule, AES-128-CCM_8 record protection, minimal CoAP, and the scriptable client.
export * from './record.js';
export * from './handshake.js';
export * from './keys.js';
export * from './ccm8.js';
export * from './coap.js';
export * from './observe.js';
export * from './client.js';
