/**
 * Core of `@socketio4ts/stores`: contracts, messages and their validation, codecs, errors and the
 * base classes every backend builds on. No I/O.
 *
 * @module
 */

export * from "./base64.ts";
export * from "./base_event_store.ts";
export * from "./base_factory.ts";
export * from "./codec.ts";
export * from "./hybrid_codec.ts";
export * from "./contracts.ts";
export * from "./errors.ts";
export * from "./event_types.ts";
export * from "./messages.ts";
export * from "./own_records.ts";
export * from "./port_store.ts";
export * from "./values.ts";
