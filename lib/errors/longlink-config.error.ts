/**
 * Thrown at startup for invalid module or stream options; the message names the option.
 *
 * @publicApi
 */
export class LonglinkConfigError extends Error {
  override readonly name = 'LonglinkConfigError';
}
