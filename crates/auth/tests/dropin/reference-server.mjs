// The real Better Auth (this folder's pinned npm package) as the drop-in suite runs it:
// options from the environment (reference-options.mjs), schema made at start by upstream's
// own migrator, served on 127.0.0.1:$PORT. With REDIS_PORT set, sessions and verification
// values live in Redis as upstream's `secondaryStorage` (REDIS_PREFIX before every key).
//
// Env: PORT, BASE_URL, BETTER_AUTH_SECRET, DATABASE_URL (postgres) or DB_PATH (SQLite) or
// REF_STATELESS=1 (no database), REDIS_PORT, REDIS_PREFIX, and the REF_* options of
// reference-options.mjs.
import http from "node:http";
import net from "node:net";

import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";

import { referenceDatabase, referenceOptions } from "./reference-options.mjs";

// A minimal RESP client (GET, SET .. EX, DEL, GETDEL): the pinned reference install has no Redis
// package, and the suite must not fetch one. Commands are answered in order on one socket.
function redisClient(port) {
  const socket = net.connect(port, "127.0.0.1");
  const waiting = [];
  let buffer = Buffer.alloc(0);
  // One reply from `buffer` at `at`: [value, next offset], or null when incomplete.
  const parse = (at) => {
    const end = buffer.indexOf("\r\n", at);
    if (end < 0) return null;
    const line = buffer.toString("utf8", at + 1, end);
    switch (String.fromCharCode(buffer[at])) {
      case "+":
        return [line, end + 2];
      case "-":
        return [new Error(line), end + 2];
      case ":":
        return [Number(line), end + 2];
      case "$": {
        const len = Number(line);
        if (len < 0) return [null, end + 2];
        if (buffer.length < end + 2 + len + 2) return null;
        return [buffer.toString("utf8", end + 2, end + 2 + len), end + 2 + len + 2];
      }
      default:
        throw new Error(`unexpected Redis reply ${line}`);
    }
  };
  socket.on("data", (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      const reply = parse(0);
      if (!reply) return;
      buffer = buffer.subarray(reply[1]);
      const { resolve, reject } = waiting.shift();
      reply[0] instanceof Error ? reject(reply[0]) : resolve(reply[0]);
    }
  });
  const send = (...args) =>
    new Promise((resolve, reject) => {
      waiting.push({ resolve, reject });
      const parts = args.map((a) => {
        const s = String(a);
        return `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
      });
      socket.write(`*${args.length}\r\n${parts.join("")}`);
    });
  return { send, close: () => socket.end() };
}


// REF_STATELESS=1: no database at all (upstream's stateless mode).
const stateless = process.env.REF_STATELESS === "1";
const { database, close } = stateless ? { database: undefined, close: () => {} } : await referenceDatabase();
const options = referenceOptions(database);
let redis = null;
if (process.env.REDIS_PORT) {
  redis = redisClient(Number(process.env.REDIS_PORT));
  const prefix = process.env.REDIS_PREFIX || "";
  options.secondaryStorage = {
    get: (key) => redis.send("GET", prefix + key),
    set: async (key, value, ttl) => {
      if (ttl) await redis.send("SET", prefix + key, value, "EX", ttl);
      else await redis.send("SET", prefix + key, value);
    },
    delete: async (key) => {
      await redis.send("DEL", prefix + key);
    },
    // Single-use verification values (upstream requires it of a secondary storage).
    getAndDelete: (key) => redis.send("GETDEL", prefix + key),
  };
}
if (!stateless) {
  const { runMigrations } = await getMigrations(options);
  await runMigrations();
}
const server = http.createServer(toNodeHandler(betterAuth(options)));
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT), process.env.HOST || "127.0.0.1");
const stop = () => {
  server.close();
  server.closeAllConnections?.();
  redis?.close();
  Promise.resolve(close()).finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
