// Objects that carry secrets print them as "[redacted]" in Node's util.inspect, Deno's and Bun's
// console; the values stay readable as properties (and in JSON.stringify, which is deliberate).

const NODE_INSPECT = Symbol.for("nodejs.util.inspect.custom");
const DENO_INSPECT = Symbol.for("Deno.customInspect");

export function redacted<T extends object>(value: T, secretFields: readonly (keyof T)[], label: string): Readonly<T> {
  const view = (): Record<string, unknown> => {
    const copy: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(value)) {
      copy[key] = secretFields.includes(key as keyof T) && field != null ? "[redacted]" : field;
    }
    return copy;
  };
  const inspect = function (this: unknown, _depth?: unknown, options?: unknown, inspectFn?: (v: unknown, o?: unknown) => string): string {
    const shown = view();
    return `${label} ${inspectFn ? inspectFn(shown, options) : JSON.stringify(shown)}`;
  };
  Object.defineProperty(value, NODE_INSPECT, { value: inspect, enumerable: false });
  Object.defineProperty(value, DENO_INSPECT, { value: () => `${label} ${JSON.stringify(view())}`, enumerable: false });
  Object.defineProperty(value, "toString", { value: () => `${label} ${JSON.stringify(view())}`, enumerable: false });
  return Object.freeze(value);
}
