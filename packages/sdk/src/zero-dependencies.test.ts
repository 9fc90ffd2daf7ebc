import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * The SDK has no runtime dependencies: applications load it for getSecret() and must not pull in
 * zod or the server's domain. Its wire types come from `@lockbox/core`, so every import of anything
 * but a `node:` builtin or a file of its own must be a whole `import type`/`export type`, which
 * the compiler erases (`verbatimModuleSyntax` keeps `import { type X }` as `import {} from …`).
 */
const SRC = new URL("./", import.meta.url).pathname;
const DIST = new URL("../dist/", import.meta.url).pathname;

/** The modules `code` loads at run time other than builtins and relative files, as `line: statement`. */
function runtimeImports(file: string, code: string, kind = ts.ScriptKind.TS): string[] {
  const source = ts.createSourceFile(file, code, ts.ScriptTarget.Latest, true, kind);
  const found: string[] = [];
  const check = (node: ts.Node, specifier: ts.Expression | undefined, typeOnly: boolean) => {
    if (typeOnly || specifier === undefined || !ts.isStringLiteralLike(specifier)) return;
    const name = specifier.text;
    if (name.startsWith("node:") || name.startsWith("./") || name.startsWith("../")) return;
    const { line } = source.getLineAndCharacterOfPosition(node.getStart(source));
    found.push(`${line + 1}: ${node.getText(source).split("\n", 1)[0]}`);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      check(node, node.moduleSpecifier, node.importClause?.isTypeOnly === true);
    } else if (ts.isExportDeclaration(node)) {
      check(node, node.moduleSpecifier, node.isTypeOnly);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      check(node, node.moduleReference.expression, node.isTypeOnly);
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === "require"))
    ) {
      check(node, node.arguments[0], false);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function filesIn(dir: string, keep: (name: string) => boolean): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter(keep)
    .map((name) => join(dir, name));
}

describe("@lockbox/sdk", () => {
  it("declares no runtime dependency", () => {
    const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      dependencies?: Record<string, string>;
    };
    expect(manifest.dependencies ?? {}).toEqual({});
  });

  it("imports other packages in its sources for types only", () => {
    const sources = filesIn(SRC, (name) => name.endsWith(".ts") && !name.endsWith(".test.ts"));
    expect(sources.length).toBeGreaterThan(3);
    const offending = sources.flatMap((file) =>
      runtimeImports(file, readFileSync(file, "utf8")).map((found) => `${file.slice(SRC.length)}:${found}`),
    );
    expect(offending).toEqual([]);
  });

  it("counts a value import, and an inline `type` import that the compiler keeps, but not `import type`", () => {
    const probe = (code: string) => runtimeImports("probe.ts", code).length;
    expect(probe(`import { z } from "zod";`)).toBe(1);
    expect(probe(`import { type UserResponse } from "@lockbox/core";`)).toBe(1);
    expect(probe(`export { parse } from "@lockbox/core";`)).toBe(1);
    expect(probe(`const z = await import("zod");`)).toBe(1);
    expect(probe(`import type { UserResponse } from "@lockbox/core";`)).toBe(0);
    expect(probe(`export type { UserResponse } from "@lockbox/core";`)).toBe(0);
    expect(probe(`import { readFile } from "node:fs/promises";\nimport { a } from "./a.js";`)).toBe(0);
  });

  it("reaches, from @lockbox/sdk/runtime, neither the management client nor another package, types included", () => {
    const reached = new Set<string>();
    const outside: string[] = [];
    const walk = (file: string) => {
      if (reached.has(file)) return;
      reached.add(file);
      const source = ts.createSourceFile(file, readFileSync(join(SRC, file), "utf8"), ts.ScriptTarget.Latest);
      for (const statement of source.statements) {
        const specifier =
          ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)
            ? statement.moduleSpecifier
            : undefined;
        if (specifier === undefined || !ts.isStringLiteral(specifier)) continue;
        if (specifier.text.startsWith("./")) walk(specifier.text.slice(2).replace(/\.js$/, ".ts"));
        else if (!specifier.text.startsWith("node:")) outside.push(`${file}: ${specifier.text}`);
      }
    };
    walk("runtime.ts");
    expect(reached).toContain("runtime-client.ts");
    expect(reached).not.toContain("management-client.ts");
    expect(outside).toEqual([]);
  });

  it.skipIf(!existsSync(DIST))("loads nothing but node: builtins and its own files once built", () => {
    const built = filesIn(DIST, (name) => name.endsWith(".js"));
    expect(built.length).toBeGreaterThan(3);
    const offending = built.flatMap((file) =>
      runtimeImports(file, readFileSync(file, "utf8"), ts.ScriptKind.JS).map(
        (found) => `${file.slice(DIST.length)}:${found}`,
      ),
    );
    expect(offending).toEqual([]);
  });
});
