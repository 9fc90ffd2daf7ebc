import { LockboxError, quoteIdentifier } from "@lockbox/core";
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from "fastify";
import { z } from "zod";
import type { Caller } from "../directory/caller.js";

/** The parsed, validated parts of a request that a handler receives. */
export interface RouteInput<Params, Query, Body> {
  readonly params: Params;
  readonly query: Query;
  readonly body: Body;
  readonly caller: Caller;
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
}

/** One management route: its schemas are both its validation and its OpenAPI description. */
export interface RouteDefinition<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  readonly method: HTTPMethods;
  readonly url: string;
  readonly summary: string;
  readonly tag: string;
  readonly params?: P;
  readonly query?: Q;
  readonly body?: B;
  /** The success status and, for documentation, the shape of its body. */
  readonly status?: number;
  readonly response?: z.ZodType;
  readonly handler: (input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>) => Promise<unknown>;
}

/** A registered route as the OpenAPI document describes it. */
export interface DocumentedRoute {
  readonly method: string;
  readonly url: string;
  readonly summary: string;
  readonly tag: string;
  readonly params?: z.ZodType;
  readonly query?: z.ZodType;
  readonly body?: z.ZodType;
  readonly status: number;
  readonly response?: z.ZodType;
  /** What the summary leaves out (who may call it, caching). */
  readonly description?: string;
  /** Takes no bearer token (its body is the credential). */
  readonly public?: boolean;
  /** Request headers the route reads besides `Authorization`, by name: what each does. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Headers of the success answer, by name: what each holds. */
  readonly responseHeaders?: Readonly<Record<string, string>>;
  /** Answers worth naming besides the success and the generic error, by status: when they happen. */
  readonly otherResponses?: Readonly<Record<number, string>>;
}

/**
 * Registers management routes on a Fastify instance and remembers them for the OpenAPI document,
 * so the document cannot drift from what is served. Routes are added to a scope whose
 * authentication plugin has set `request.caller`; each parses params, query and body with its zod
 * schemas (a shape error is 400 BAD_REQUEST naming the field), and sends the handler's result as JSON.
 */
export class RouteRegistry {
  readonly routes: DocumentedRoute[] = [];

  constructor(private readonly app: FastifyInstance) {}

  add<
    P extends z.ZodType = z.ZodObject,
    Q extends z.ZodType = z.ZodObject,
    B extends z.ZodType = z.ZodUndefined,
  >(definition: RouteDefinition<P, Q, B>): void {
    const status = definition.status ?? 200;
    this.routes.push({ ...definition, status });
    this.app.route({
      method: definition.method,
      url: definition.url,
      // No implicit HEAD: a HEAD of a listing would decrypt and audit values it never sends.
      exposeHeadRoute: false,
      // Any other route refuses a body before reading it (plugins/body-guard.ts).
      config: { takesBody: definition.body !== undefined },
      handler: async (request, reply) => {
        const caller = request.caller;
        if (caller === undefined)
          throw new LockboxError("UNAUTHENTICATED", "The request is not authenticated.");
        const params = parse("path", definition.params ?? EMPTY, request.params);
        // Without a declared query, a write refuses any parameter (`DELETE …/secrets/X?env=dev` must not
        // delete the whole secret); a read, which changes nothing, ignores them.
        const query = parse(
          "query",
          definition.query ?? (definition.method === "GET" ? ANY_OBJECT : NO_FIELDS),
          request.query,
        );
        // A route without a body refuses a non-empty one, as it refuses unknown fields.
        const body = definition.body
          ? parse("body", definition.body, request.body)
          : request.body === undefined
            ? undefined
            : parse("body", NO_FIELDS, request.body);
        const result = await definition.handler({ params, query, body, caller, request, reply } as RouteInput<
          z.output<P>,
          z.output<Q>,
          z.output<B>
        >);
        if (status === 204) return reply.code(204).send();
        // A handler may have chosen its own status (201 for a set that created).
        if (reply.statusCode === 200) void reply.code(status);
        return reply.send(result);
      },
    });
  }
}

const EMPTY = z.object({}).passthrough();
const ANY_OBJECT = z.object({}).passthrough();
const NO_FIELDS = z.object({}).strict();

/** Parses one part of a request; a failure names the first offending field, never its value. */
export function parse<T extends z.ZodType>(
  where: "path" | "query" | "body",
  schema: T,
  data: unknown,
): z.output<T> {
  if (where === "body" && (data === undefined || data === null)) {
    throw new LockboxError("BAD_REQUEST", "The request needs a JSON object body.");
  }
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.length ? issue.path.join(".") : where;
  let problem = issue?.message ?? "is invalid";
  if (issue?.code === "unrecognized_keys")
    problem = `has unknown field(s) ${issue.keys.slice(0, 3).map(quoteIdentifier).join(", ")}`;
  else if (issue?.code === "invalid_type") problem = `must be ${issue.expected}`;
  else if (issue?.code === "too_small" || issue?.code === "too_big") problem = boundProblem(issue);
  throw new LockboxError("BAD_REQUEST", `Invalid request ${where}: '${field}' ${problem}.`);
}

/** "must be at least 1", "must be at most 1000 characters": a bound, in words. */
function boundProblem(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig): string {
  const bound = issue.code === "too_small" ? issue.minimum : issue.maximum;
  const inclusive = issue.inclusive !== false;
  const side =
    issue.code === "too_small" ? (inclusive ? "at least" : "more than") : inclusive ? "at most" : "less than";
  const unit = issue.origin === "string" ? " characters" : issue.origin === "array" ? " items" : "";
  return `must be ${side} ${String(bound)}${unit}`;
}

/** The OpenAPI 3.1 document of every registered route. */
export function openApiDocument(
  routes: readonly DocumentedRoute[],
  version: string,
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z]+)/g, "{$1}");
    const parameters = [
      ...objectFields(route.params).map(([name, schema]) => ({ name, in: "path", required: true, schema })),
      ...objectFields(route.query).map(([name, schema, required]) => ({
        name,
        in: "query",
        required,
        schema,
      })),
      ...Object.entries(route.headers ?? {}).map(([name, description]) => ({
        name,
        in: "header",
        required: false,
        description,
        schema: { type: "string" },
      })),
    ];
    const responseHeaders = Object.entries(route.responseHeaders ?? {}).map(([name, description]) => [
      name,
      { description, schema: { type: "string" } },
    ]);
    const operation: Record<string, unknown> = {
      summary: route.summary,
      ...(route.description ? { description: route.description } : {}),
      tags: [route.tag],
      security: route.public ? [] : [{ bearer: [] }],
      parameters,
      responses: {
        [String(route.status)]: {
          description: route.status === 204 ? "Done" : "Success",
          ...(responseHeaders.length ? { headers: Object.fromEntries(responseHeaders) } : {}),
          ...(route.response && route.status !== 204
            ? { content: { "application/json": { schema: jsonSchema(route.response) } } }
            : {}),
        },
        ...Object.fromEntries(
          Object.entries(route.otherResponses ?? {}).map(([status, description]) => [
            status,
            Number(status) >= 400 ? { description, content: ERROR_CONTENT } : { description },
          ]),
        ),
        default: { description: "An error", content: ERROR_CONTENT },
      },
    };
    if (route.body) {
      operation.requestBody = {
        required: true,
        content: { "application/json": { schema: jsonSchema(route.body) } },
      };
    }
    paths[path] ??= {};
    (paths[path] as Record<string, unknown>)[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: "3.1.0",
    info: { title: "Lockbox API", version },
    servers: [{ url: "/" }],
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: {
        Error: {
          type: "object",
          required: ["error"],
          properties: {
            error: {
              type: "object",
              required: ["code", "message", "requestId"],
              properties: {
                code: { type: "string" },
                message: { type: "string" },
                requestId: { type: "string" },
              },
            },
          },
        },
      },
    },
    paths,
  };
}

const ERROR_CONTENT = { "application/json": { schema: { $ref: "#/components/schemas/Error" } } };

function jsonSchema(schema: z.ZodType): unknown {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, {
    io: "input",
    unrepresentable: "any",
  }) as Record<string, unknown>;
  return rest;
}

function objectFields(schema: z.ZodType | undefined): Array<[string, unknown, boolean]> {
  if (!(schema instanceof z.ZodObject)) return [];
  return Object.entries(schema.shape as Record<string, z.ZodType>).map(([name, field]) => [
    name,
    jsonSchema(field),
    !field.safeParse(undefined).success,
  ]);
}
