/** Malformed input or an unencodable message. */
export class WireError extends Error {
  override readonly name = 'WireError';
}
