/**
 * The `POST /control` endpoint of the socket.io server processes that the tests and the
 * benchmark drive. A request's body is `{ "op": string, "args"?: object }`; the answer is the JSON
 * of what the operation returns (`null` for nothing), or status 500 and `{ "error": message }`
 * when it throws. Uses only `node:` APIs: the test server also runs on Node, bundled.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";

/** Runs one control operation; its result is sent back as JSON. */
export type ControlOperation = (
  op: string,
  args: Record<string, unknown>,
) => unknown | Promise<unknown>;

/**
 * An HTTP request handler that serves `POST /control` with `run` and answers 404 to anything else.
 *
 * @example
 * ```ts ignore
 * import { createServer } from "node:http";
 *
 * const http = createServer(controlEndpoint((op) => (op === "ping" ? "pong" : null)));
 * ```
 */
export function controlEndpoint(
  run: ControlOperation,
): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    if (request.url !== "/control" || request.method !== "POST") {
      response.statusCode = 404;
      response.end();
      return;
    }
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => body += chunk);
    request.on("end", async () => {
      try {
        const { op, args = {} } = JSON.parse(body) as {
          op: string;
          args?: Record<string, unknown>;
        };
        const result = await run(op, args);
        response.setHeader("content-type", "application/json");
        response.end(JSON.stringify(result ?? null));
      } catch (error) {
        response.statusCode = 500;
        response.end(JSON.stringify({ error: (error as Error).message }));
      }
    });
  };
}
