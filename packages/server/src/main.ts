import { parseArgs } from "node:util";
import { runServer } from "./run-server.js";

/**
 * `npm start`: the Lockbox server with the flags of `lockbox server:start`
 * (`--db`, `--host`, `--port`, `--master-key-file`, `--rate-limit`, `--trust-proxy`, `--tls-cert`, `--tls-key`).
 */
const { values } = parseArgs({
  options: {
    db: { type: "string" },
    host: { type: "string" },
    port: { type: "string" },
    "master-key-file": { type: "string" },
    "rate-limit": { type: "string" },
    "trust-proxy": { type: "boolean" },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
  },
  strict: true,
});

process.exitCode = await runServer(
  {
    db: values.db,
    host: values.host,
    port: values.port,
    masterKeyFile: values["master-key-file"],
    rateLimit: values["rate-limit"],
    trustProxy: values["trust-proxy"],
    tlsCert: values["tls-cert"],
    tlsKey: values["tls-key"],
  },
  { stdout: process.stdout, stderr: process.stderr, env: process.env },
);
