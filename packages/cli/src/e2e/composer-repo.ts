import { createHash } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { crc32 } from "node:zlib";

/** The one package a {@link ComposerRepository} serves, and the class its autoloader finds. */
export const PRIVATE_PACKAGE = "acme/private-lib";
export const PRIVATE_PACKAGE_VERSION = "1.0.0";
export const PRIVATE_CLASS = "Acme\\PrivateLib\\Greeter";

/** How a {@link ComposerRepository} wants requests authenticated. */
export type RepositoryAuth =
  | { readonly kind: "basic"; readonly username: string; readonly password: string }
  | { readonly kind: "bearer"; readonly token: string };

/** One request the repository answered. */
export interface RepositoryRequest {
  readonly method: string;
  readonly path: string;
  readonly authorized: boolean;
  readonly status: number;
}

/** A private Composer repository on loopback over plain HTTP. */
export interface ComposerRepository {
  /** `http://127.0.0.1:PORT`, the `url` of a `composer` repository entry. */
  readonly url: string;
  /** `127.0.0.1:PORT`, the host Composer keys its credentials by. */
  readonly hostPort: string;
  readonly requests: readonly RepositoryRequest[];
  authorizedCount(): number;
  unauthorizedCount(): number;
  /** Forgets the requests seen so far. */
  reset(): void;
  close(): Promise<void>;
}

/**
 * Serves `packages.json` (Composer repository format, `packages` listing one version of
 * {@link PRIVATE_PACKAGE}) and that version's dist zip on 127.0.0.1, answering every request that
 * lacks the expected `Authorization` header with 401 and a `WWW-Authenticate` challenge.
 */
export async function startComposerRepository(auth: RepositoryAuth): Promise<ComposerRepository> {
  const zip = packageZip();
  const expected =
    auth.kind === "basic"
      ? `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`
      : `Bearer ${auth.token}`;
  const requests: RepositoryRequest[] = [];
  let url = "";
  const distPath = `/dist/acme-private-lib-${PRIVATE_PACKAGE_VERSION}.zip`;

  const server = createServer((request: IncomingMessage, response) => {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    const authorized = request.headers.authorization === expected;
    const answer = (status: number, headers: Record<string, string>, body: string | Buffer) => {
      requests.push({ method: request.method ?? "GET", path, authorized, status });
      response.writeHead(status, headers).end(body);
    };
    if (!authorized) {
      answer(
        401,
        {
          "www-authenticate":
            auth.kind === "basic" ? 'Basic realm="acme private"' : 'Bearer realm="acme private"',
          "content-type": "text/plain",
        },
        "authentication required\n",
      );
      return;
    }
    if (path === "/packages.json") {
      const packages = {
        packages: {
          [PRIVATE_PACKAGE]: {
            [PRIVATE_PACKAGE_VERSION]: {
              name: PRIVATE_PACKAGE,
              version: PRIVATE_PACKAGE_VERSION,
              type: "library",
              autoload: { "psr-4": { "Acme\\PrivateLib\\": "src/" } },
              dist: {
                type: "zip",
                url: `${url}${distPath}`,
                shasum: createHash("sha1").update(zip).digest("hex"),
              },
            },
          },
        },
      };
      answer(200, { "content-type": "application/json" }, JSON.stringify(packages));
    } else if (path === distPath) {
      answer(200, { "content-type": "application/zip" }, zip);
    } else {
      answer(404, { "content-type": "text/plain" }, "not found\n");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  url = `http://127.0.0.1:${port}`;
  return {
    url,
    hostPort: `127.0.0.1:${port}`,
    requests,
    authorizedCount: () => requests.filter((r) => r.authorized).length,
    unauthorizedCount: () => requests.filter((r) => !r.authorized).length,
    reset: () => {
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** The dist zip of {@link PRIVATE_PACKAGE}: its composer.json and one class, under one top folder. */
function packageZip(): Buffer {
  const composerJson = {
    name: PRIVATE_PACKAGE,
    autoload: { "psr-4": { "Acme\\PrivateLib\\": "src/" } },
  };
  const greeter = [
    "<?php",
    "namespace Acme\\PrivateLib;",
    "final class Greeter { public static function hello(): string { return 'hello from acme'; } }",
    "",
  ].join("\n");
  return storedZip([
    { name: "acme-private-lib/composer.json", data: Buffer.from(JSON.stringify(composerJson, null, 2)) },
    { name: "acme-private-lib/src/Greeter.php", data: Buffer.from(greeter) },
  ]);
}

/**
 * A zip archive of `files`, stored without compression: local headers, the central directory and
 * its end record (APPNOTE 4.3), which is all `unzip` and PHP's ZipArchive need.
 */
export function storedZip(files: readonly { name: string; data: Buffer }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  // 1 January 2024, 00:00 in MS-DOS date and time.
  const dosTime = 0;
  const dosDate = ((2024 - 1980) << 9) | (1 << 5) | 1;
  for (const { name, data } of files) {
    const nameBytes = Buffer.from(name, "utf8");
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(dosTime, 10);
    local.writeUInt16LE(dosDate, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, nameBytes, data);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, 2.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt16LE(dosTime, 12);
    central.writeUInt16LE(dosDate, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE((0o100644 << 16) >>> 0, 38); // external attributes: a regular file, rw-r--r--
    central.writeUInt32LE(offset, 42);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}
