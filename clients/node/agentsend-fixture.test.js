// The Node helper's own tests: AGENTSEND_BIN=... node --test clients/node/
"use strict";

const test = require("node:test");
const assert = require("node:assert");
const { startAgentSend } = require("./agentsend-fixture");

async function call(server, method, path, body, key) {
  const response = await fetch(`${server.http}${path}`, {
    method,
    headers: { Authorization: `Bearer ${key || server.apiKey}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

test("a fixture serves with its key and stops when asked", async () => {
  const server = await startAgentSend();
  try {
    const account = await call(server, "GET", "/account");
    assert.strictEqual(account.status, 200);
    assert.strictEqual(account.body.id, server.accountId);
    const inbox = await call(server, "POST", "/inboxes", { address: "agent" });
    assert.strictEqual(inbox.status, 201);
  } finally {
    assert.strictEqual(await server.stop(), 0);
  }
});

test("two fixtures are apart, and a fixed key is used", async () => {
  const key = "ask_" + "n".repeat(40);
  const [a, b] = await Promise.all([startAgentSend(), startAgentSend(["--api-key", key])]);
  try {
    assert.notStrictEqual(a.http, b.http);
    assert.strictEqual(b.apiKey, key);
    assert.strictEqual((await call(b, "GET", "/account")).status, 200);
    assert.strictEqual((await call(a, "GET", "/account", undefined, key)).status, 401);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

test("a malformed key is refused before ready, saying why", async () => {
  await assert.rejects(startAgentSend(["--api-key", "nope"]), /--api-key/);
});

test("the fixture token resets", async () => {
  const server = await startAgentSend();
  try {
    assert.strictEqual((await call(server, "POST", "/inboxes", { address: "gone" })).status, 201);
    const reset = await call(server, "POST", "/_fixture/reset", undefined, server.fixtureToken);
    assert.strictEqual(reset.status, 200);
    assert.strictEqual((await call(server, "GET", "/inboxes")).body.total, 0);
  } finally {
    await server.stop();
  }
});
