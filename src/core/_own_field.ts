/**
 * Sets an own field of an object being built, even one named `__proto__`.
 *
 * @module
 */

/**
 * Sets `out[field] = value` as an own, enumerable field. A field named `__proto__` (which
 * `JSON.parse` makes as an own field) would, assigned, call the setter of
 * `Object.prototype.__proto__` where the runtime has it (Node, Bun; Deno removes it), replacing
 * the object's prototype and losing the field.
 */
export function setOwnField(out: Record<string, unknown>, field: string, value: unknown): void {
  if (field === "__proto__") {
    Object.defineProperty(out, field, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else out[field] = value;
}
