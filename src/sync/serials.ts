/** RFC 1982 serial arithmetic, as the sync engine uses it (the rules live in dns/serial.ts). */
export { nextSerial, serialGt } from '../dns/serial.js';
