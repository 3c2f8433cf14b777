/**
 * Redis key and channel names. Every name starts with the prefix, then a namespace segment, so
 * no session id, map name or channel can ever produce another's name:
 *
 * - session hash: `<prefix>:session:<sessionId>`
 * - shared map hash: `<prefix>:map:<name>`
 * - event stream: `<prefix>:stream:<channel>`
 * - Pub/Sub channel: `<prefix>:<channel>`
 *
 * Prefixes cannot contain `:` (see `assertPrefix`), so the namespace segment is always the second
 * one and the id is everything after it.
 *
 * @module
 */

/** Key of the hash holding one session's keys. */
export function sessionKey(prefix: string, sessionId: string): string {
  return `${prefix}:session:${sessionId}`;
}

/** Key of the hash holding one shared map. */
export function mapKey(prefix: string, name: string): string {
  return `${prefix}:map:${name}`;
}

/** Key of the stream carrying one logical event channel. */
export function streamKey(prefix: string, channel: string): string {
  return `${prefix}:stream:${channel}`;
}

/** Name of the Pub/Sub channel carrying one logical event channel. */
export function pubSubChannel(prefix: string, channel: string): string {
  return `${prefix}:${channel}`;
}
