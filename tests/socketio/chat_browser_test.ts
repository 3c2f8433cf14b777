/**
 * The chat example in a real browser (Debian's chromium driven by playwright-core): a message
 * typed on one page appears on another — on the memory default with one server, and across two
 * servers (separate processes) on Redis Streams.
 */

import assert from "node:assert/strict";
import { type Browser, chromium, type Page } from "playwright-core";
import { createClient } from "redis";
import { reportTool, REQUIRE_SERVICES, requireService, serviceTest } from "../_services.ts";

const CHROMIUM = "/usr/bin/chromium";
const INSTALL_CHROMIUM = "apt-get install -y chromium";
const ROOT = new URL("../../", import.meta.url).pathname;
const haveChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);
reportTool("chromium", haveChromium, INSTALL_CHROMIUM);
if (!haveChromium) {
  console.warn(
    REQUIRE_SERVICES
      ? `REQUIRE_SERVICES=1 and ${CHROMIUM} is missing (${INSTALL_CHROMIUM}): the browser tests will fail`
      : `skipping browser tests: ${CHROMIUM} is missing (${INSTALL_CHROMIUM})`,
  );
}
/** Without chromium the browser tests are skipped, or fail under `REQUIRE_SERVICES=1`. */
const skipBrowser = !haveChromium && !REQUIRE_SERVICES;

interface ChatServer {
  readonly url: string;
  readonly stop: () => Promise<void>;
}

async function startChat(env: Record<string, string>): Promise<ChatServer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "examples/chat/server.ts"],
    cwd: ROOT,
    env: { PORT: "0", ...env },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let url: string | undefined;
  const deadline = Date.now() + 60_000;
  while (!url && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
    url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(text)?.[1];
  }
  const drained = (async () => {
    while (!(await reader.read()).done) { /* keep the pipe flowing */ }
  })();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await child.status;
    await drained;
  };
  if (!url) {
    await stop();
    throw new Error(`chat server did not start:\n${text}`);
  }
  return { url, stop };
}

function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
    ],
  });
}

async function join(page: Page, url: string, name: string): Promise<string> {
  await page.goto(url);
  await page.locator("#status[data-node]").waitFor({ timeout: 15_000 });
  await page.fill("#name", name);
  await page.click("#join");
  await page.locator(`body[data-joined="${name}"]`).waitFor({ timeout: 15_000 });
  return (await page.getAttribute("#status", "data-node"))!;
}

async function chatAcross(urlA: string, urlB: string): Promise<{ nodeA: string; nodeB: string }> {
  const browser = await launch();
  try {
    const pageA = await browser.newPage();
    const pageB = await browser.newPage();
    const nodeA = await join(pageA, urlA, "Ada");
    const nodeB = await join(pageB, urlB, "Grace");
    const text = `hello from Ada ${crypto.randomUUID().slice(0, 6)}`;
    await pageA.fill("#message", text);
    await pageA.click("#send");
    const line = pageB.locator("#messages li", { hasText: text });
    await line.waitFor({ timeout: 15_000 });
    assert.match(await line.innerText(), new RegExp(`via ${nodeA} Ada: ${text}`));
    const reply = `hi Ada, Grace here ${crypto.randomUUID().slice(0, 6)}`;
    await pageB.fill("#message", reply);
    await pageB.click("#send");
    await pageA.locator("#messages li", { hasText: reply }).waitFor({ timeout: 15_000 });
    await pageA.locator("#online", { hasText: "2" }).waitFor({ timeout: 15_000 });
    return { nodeA, nodeB };
  } finally {
    await browser.close();
  }
}

Deno.test({
  name: "chat example in chromium: two pages on the memory default see each other's messages",
  ignore: skipBrowser,
  fn: async () => {
    assert.ok(haveChromium, `${CHROMIUM} is missing (${INSTALL_CHROMIUM})`);
    const server = await startChat({});
    try {
      const { nodeA, nodeB } = await chatAcross(server.url, server.url);
      assert.equal(nodeA, nodeB);
    } finally {
      await server.stop();
    }
  },
});

// Asked for only when its test can run, so that the summary does not list it as used.
const redis = skipBrowser ? undefined : await requireService("redis");
const ACROSS_SERVERS =
  "chat example in chromium: a message typed on a page of one server appears on a page of another (Redis Streams)";
const chatAcrossServers = async () => {
  assert.ok(haveChromium, `${CHROMIUM} is missing (${INSTALL_CHROMIUM})`);
  const prefix = `chat-test-${crypto.randomUUID().slice(0, 8)}`;
  const env = {
    SOCKETIO4TS_REDIS_URL: `redis://${redis!.endpoint.host}:${redis!.endpoint.port}`,
    SOCKETIO4TS_PREFIX: prefix,
  };
  const one = await startChat({ ...env, SOCKETIO4TS_NODE_ID: "chat-one" });
  try {
    const two = await startChat({ ...env, SOCKETIO4TS_NODE_ID: "chat-two" });
    try {
      const { nodeA, nodeB } = await chatAcross(one.url, two.url);
      assert.equal(nodeA, "chat-one");
      assert.equal(nodeB, "chat-two");
    } finally {
      await two.stop();
    }
  } finally {
    await one.stop();
    const client = await createClient({ url: env.SOCKETIO4TS_REDIS_URL }).connect();
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      if (keys.length > 0) await client.del(keys);
    }
    client.destroy();
  }
};
if (redis === undefined) Deno.test({ name: ACROSS_SERVERS, ignore: true, fn: chatAcrossServers });
else serviceTest(redis, ACROSS_SERVERS, chatAcrossServers);
