// AgentSend as a test fixture for Node (Jest, Vitest, node:test): start a server of its own,
// read its ready line, stop it. No dependencies.
//
//   const { startAgentSend } = require("./agentsend-fixture");
//   let server;
//   beforeAll(async () => { server = await startAgentSend(); });
//   afterAll(() => server.stop());
//   // server.http, server.smtp, server.apiKey, server.accountId
//
// The binary is $AGENTSEND_BIN, else `agentsend` on the PATH. `fixtureToken` opens
// POST /_fixture/reset and GET /_fixture/outbox.
"use strict";

const { spawn } = require("node:child_process");
const readline = require("node:readline");

function startAgentSend(args = [], binary = process.env.AGENTSEND_BIN || "agentsend") {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ["fixture", ...args], { stdio: ["pipe", "pipe", "pipe"] });
    const lines = readline.createInterface({ input: child.stdout });
    let ready = false;
    let log = "";
    // Kept (briefly) to say why a start failed; drained afterwards so the pipe never fills.
    child.stderr.on("data", (chunk) => {
      if (!ready) log += chunk;
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      if (!ready) reject(new Error(`agentsend fixture exited with ${code} before ready: ${log.trim()}`));
    });
    lines.once("line", (line) => {
      ready = true;
      lines.close();
      let r;
      try {
        r = JSON.parse(line);
      } catch (e) {
        child.kill();
        reject(new Error(`agentsend fixture printed no ready line: ${line}`));
        return;
      }
      resolve({
        http: r.http,
        smtp: r.smtp,
        apiKey: r.apiKey,
        accountId: r.accountId,
        fixtureToken: r.fixtureToken,
        inboxes: r.inboxes,
        process: child,
        // Closing stdin stops the fixture, which removes its database.
        stop(timeoutMs = 30000) {
          if (child.exitCode !== null) return Promise.resolve(child.exitCode);
          return new Promise((done) => {
            // SIGTERM still cleans up if closing stdin did not stop it in time.
            const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
            child.once("exit", (code) => {
              clearTimeout(timer);
              done(code);
            });
            child.stdin.end();
          });
        },
      });
    });
  });
}

module.exports = { startAgentSend };
