// AgentSend as a test fixture for Node (Jest, Vitest, node:test): start a server of its own,
// read its ready line, stop it. No dependencies.
//
//   const { startAgentSend } = require("./agentsend-fixture");
//   let server;
//   beforeAll(async () => { server = await startAgentSend(); });
//   afterAll(() => server.stop());
//   // server.http, server.smtp, server.apiKey, server.accountId
//
// The binary is $AGENTSEND_BIN, else `agentsend` on the PATH.
"use strict";

const { spawn } = require("node:child_process");
const readline = require("node:readline");

function startAgentSend(args = [], binary = process.env.AGENTSEND_BIN || "agentsend") {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ["fixture", ...args], { stdio: ["pipe", "pipe", "ignore"] });
    const lines = readline.createInterface({ input: child.stdout });
    let ready = false;
    child.on("error", reject);
    child.on("exit", (code) => {
      if (!ready) reject(new Error(`agentsend fixture exited with ${code} before ready`));
    });
    lines.once("line", (line) => {
      ready = true;
      lines.close();
      const r = JSON.parse(line);
      resolve({
        http: r.http,
        smtp: r.smtp,
        apiKey: r.apiKey,
        accountId: r.accountId,
        inboxes: r.inboxes,
        process: child,
        // Closing stdin stops the fixture, which removes its database.
        stop() {
          if (child.exitCode !== null) return Promise.resolve(child.exitCode);
          return new Promise((done) => {
            child.once("exit", (code) => done(code));
            child.stdin.end();
          });
        },
      });
    });
  });
}

module.exports = { startAgentSend };
