/**
 * Memory backends: storage in a `Map`, events on an in-process bus.
 *
 * @module
 */

export * from "./memory_bus.ts";
export * from "./memory_event_store.ts";
export * from "./memory_store_factory.ts";
