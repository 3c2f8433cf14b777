/**
 * Base64 for `Uint8Array` with web-standard APIs only (edge-safe).
 *
 * @module
 */

const CHUNK = 0x8000;

/** Encodes bytes as standard (padded) base64. */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let index = 0; index < bytes.length; index += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(index, index + CHUNK));
  }
  return btoa(binary);
}

/**
 * Decodes standard base64 into bytes.
 *
 * @throws {TypeError} if `text` is not valid base64.
 */
export function base64ToBytes(text: string): Uint8Array {
  let binary: string;
  try {
    binary = atob(text);
  } catch (error) {
    throw new TypeError(`not valid base64 (${text.length} chars)`, { cause: error });
  }
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return bytes;
}
