import { CodegenError } from './codegen-error.js';
import { jsonSchema, type JsonSchema } from './json-schema.writer.js';
import { pascalName } from './stream-scanner.js';
import type { AppModel, StreamModel } from './type-model.js';

/** Document-level options of the AsyncAPI document. */
export interface AsyncApiOptions {
  title: string;
  version: string;
  /** `host:port` of the HTTP server (SSE and WebSocket); a server variable, default `localhost:3000`. */
  httpHost?: string;
  /** The WebSocket path (`ws.path`). Default `/ws`. */
  wsPath?: string;
  /** `host:port` of the gRPC server. Default `localhost:50051`. */
  grpcHost?: string;
}

const SCHEMAS = '#/components/schemas/';

/** The transports a stream is served on (every one when the handler does not restrict them). */
function transportsOf(stream: StreamModel): ('sse' | 'ws' | 'grpc')[] {
  return stream.transports ?? ['sse', 'ws', 'grpc'];
}

/**
 * An AsyncAPI 3.0 document of the application's streams, seen from the server: one channel per
 * stream name whose address is the name (the WebSocket/gRPC `stream`, and the SSE route under
 * the controller's path), a `receive` operation for the subscription and its params, a `send`
 * operation for its events and, on a two-way stream, a `receive` operation for the client's
 * messages (`x-longlink.input`: where each transport takes them). Channel bindings: `ws`; operation bindings: `http` (the SSE method,
 * and for GET the params as the query); `x-longlink` carries what AsyncAPI has no binding for
 * (the gRPC generic and typed methods, the transports). A stream with `@UseGuards()` requires
 * the security scheme of each guard; the document cannot tell which credential a guard checks,
 * nor see global guards (`APP_GUARD`) or guards applied by other means.
 */
export function writeAsyncApi(model: AppModel, options: AsyncApiOptions): JsonSchema {
  const schemas: Record<string, JsonSchema> = {};
  for (const [name, def] of [...model.definitions].sort(([a], [b]) => (a < b ? -1 : 1))) schemas[name] = jsonSchema(def, SCHEMAS);
  const channels: Record<string, JsonSchema> = {};
  const operations: Record<string, JsonSchema> = {};
  const messages: Record<string, JsonSchema> = {};
  const securitySchemes: Record<string, JsonSchema> = {};
  const used = new Set<string>();
  for (const stream of model.streams) {
    for (const guard of stream.guards) {
      securitySchemes[guard] = {
        type: 'httpApiKey',
        name: 'authorization',
        in: 'header',
        description:
          `Checked by the guard \`${guard}\` (\`@UseGuards\`). The generator sees that the guard runs, not which credential it ` +
          'accepts: the header is an assumption (browsers send WebSocket credentials in the init message, and EventSource ones as a ticket).',
      };
    }
    for (const name of stream.names) {
      const id = pascalName(name);
      const key = id[0]!.toLowerCase() + id.slice(1);
      if (used.has(key)) throw new CodegenError(`${stream.location}: two stream names map to the AsyncAPI channel id ${key}`);
      used.add(key);
      const served = transportsOf(stream);
      messages[`${id}Params`] = {
        name: `${id}Params`,
        title: `Params of ${name}`,
        contentType: 'application/json',
        payload: { $ref: `${SCHEMAS}${stream.params.name}` },
      };
      messages[`${id}Event`] = {
        name: `${id}Event`,
        title: `Event of ${name}`,
        contentType: 'application/json',
        payload: jsonSchema(stream.event, SCHEMAS),
      };
      if (stream.input) {
        messages[`${id}Input`] = {
          name: `${id}Input`,
          title: `Client message of ${name}`,
          contentType: 'application/json',
          payload: jsonSchema(stream.input, SCHEMAS),
        };
      }
      channels[key] = {
        address: name,
        title: name,
        ...(stream.description ? { description: stream.description } : {}),
        servers: [
          ...(served.includes('sse') ? [{ $ref: '#/servers/sse' }] : []),
          ...(served.includes('ws') ? [{ $ref: '#/servers/ws' }] : []),
          ...(served.includes('grpc') ? [{ $ref: '#/servers/grpc' }] : []),
        ],
        messages: {
          params: { $ref: `#/components/messages/${id}Params` },
          event: { $ref: `#/components/messages/${id}Event` },
          ...(stream.input ? { input: { $ref: `#/components/messages/${id}Input` } } : {}),
        },
        ...(served.includes('ws') ? { bindings: { ws: { method: 'GET', bindingVersion: '0.1.0' } } } : {}),
        'x-longlink': {
          transports: served,
          ...(served.includes('sse')
            ? { sse: { method: stream.sseMethod, route: `/${name}`, params: stream.sseMethod === 'GET' ? 'query' : 'body' } }
            : {}),
          ...(served.includes('ws') ? { ws: { stream: name } } : {}),
          ...(served.includes('grpc')
            ? {
                grpc: {
                  generic: { method: 'longlink.v1.Streams/Subscribe', stream: name },
                  ...(stream.grpc ? { typed: { service: stream.grpc.service, method: stream.grpc.method } } : {}),
                },
              }
            : {}),
          ...(stream.input
            ? {
                input: {
                  ...(served.includes('sse') ? { sse: { method: 'POST', route: '/longlink/input/{channel}', body: '{"id","data"}' } } : {}),
                  ...(served.includes('ws') ? { ws: { type: 'input' } } : {}),
                  ...(served.includes('grpc') ? { grpc: { method: 'longlink.v1.Streams/Channel' } } : {}),
                },
              }
            : {}),
          handler: stream.location,
        },
      };
      const security = stream.guards.map((g) => ({ $ref: `#/components/securitySchemes/${g}` }));
      const http = served.includes('sse')
        ? {
            bindings: {
              http: {
                method: stream.sseMethod,
                ...(stream.sseMethod === 'GET' ? { query: { $ref: `${SCHEMAS}${stream.params.name}` } } : {}),
                bindingVersion: '0.3.0',
              },
            },
          }
        : {};
      operations[`subscribe${id}`] = {
        action: 'receive',
        channel: { $ref: `#/channels/${key}` },
        summary: `A client subscribes to ${name} with its params.`,
        messages: [{ $ref: `#/channels/${key}/messages/params` }],
        ...(security.length ? { security } : {}),
        ...http,
      };
      operations[`send${id}Events`] = {
        action: 'send',
        channel: { $ref: `#/channels/${key}` },
        summary: `The server sends the events of ${name}.`,
        messages: [{ $ref: `#/channels/${key}/messages/event` }],
        ...(security.length ? { security } : {}),
      };
      if (stream.input) {
        operations[`receive${id}Input`] = {
          action: 'receive',
          channel: { $ref: `#/channels/${key}` },
          summary: `A client sends messages on its subscription to ${name} (a two-way stream, PROTOCOL.md §7); each is acked or refused.`,
          messages: [{ $ref: `#/channels/${key}/messages/input` }],
          ...(security.length ? { security } : {}),
        };
      }
    }
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: options.title,
      version: options.version,
      description: 'Streams served by nestjs-longlink over Server-Sent Events, WebSocket and gRPC (generated by `nestjs-longlink generate`).',
    },
    defaultContentType: 'application/json',
    servers: {
      sse: {
        host: options.httpHost ?? 'localhost:3000',
        protocol: 'http',
        description: 'Server-Sent Events: one route per stream (PROTOCOL.md §3).',
      },
      ws: {
        host: options.httpHost ?? 'localhost:3000',
        pathname: options.wsPath ?? '/ws',
        protocol: 'ws',
        description: 'WebSocket: subscribe messages name the stream (PROTOCOL.md §4).',
      },
      grpc: {
        host: options.grpcHost ?? 'localhost:50051',
        protocol: 'grpc',
        description: 'gRPC: longlink.v1.Streams/Subscribe for every stream, typed methods where bound (PROTOCOL.md §5).',
      },
    },
    channels,
    operations,
    components: { schemas, messages, ...(Object.keys(securitySchemes).length ? { securitySchemes } : {}) },
  };
}
