/**
 * The composition root of the Lockbox server. The HTTP server is not wired yet: for now this
 * says plainly what works, so `npm start` never pretends.
 */
process.stdout.write(
  [
    "Lockbox: the HTTP server is not available yet.",
    "What works so far: the domain rules, encrypted storage on SQLite and PostgreSQL, the audit log",
    "and the secret services, all exercised by `npm test`.",
    "",
  ].join("\n"),
);
