/**
 * The one door to `@nestjs/microservices`' gRPC server internals: nothing else in the module
 * subclasses `ServerGrpc` or calls its protected members.
 *
 * Why: the gRPC transport runs as Nest's own `ServerGrpc` (its package loading, keepalive
 * options, service binding and shutdown), but a stream's call must be served by the stream
 * pipeline, natively on grpc-js, not through Nest's RxJS message handler. Nest builds each
 * service method with `createServiceMethod()` (protected) from the handler it finds under
 * `createPattern(service, rpc, streaming)` (protected): our handlers carry a marker, and the
 * override returns our native function for them. `createClient()` (protected) is overridden to
 * build the grpc-js server with the module's channel options and to keep the bound port;
 * `getKeepaliveOptions()` (protected) is reused; `grpcClient` (a public field, undocumented)
 * is the grpc-js server that shutdown drains.
 *
 * Checked at bootstrap ({@link checkNestGrpcServer}): every member above is on
 * `ServerGrpc.prototype`, the generic service's handler was attached through the override,
 * and `grpcClient` holds the server after `listen()`. Otherwise bootstrap fails naming the
 * `@nestjs/microservices` version found and the one this was written for.
 */
import type { Server as GrpcServer, ServerWritableStream } from '@grpc/grpc-js';
import type * as Microservices from '@nestjs/microservices';
import { shapeError } from './package-version.js';

/** The `@nestjs/microservices` versions this door was written against. */
const MICROSERVICES_EXPECTED = '12.x';

/** Serves one call natively (grpc-js' `handleServerStreamingCall` shape, or a bidi call's `ServerDuplexStream`). */
export type NativeGrpcHandler = (call: ServerWritableStream<Record<string, unknown>, unknown>) => void;

/** What the module uses of a running Nest gRPC server. */
export interface NestGrpcServer {
  close(): Promise<void>;
  /** The grpc-js server under it (undefined before `listen()` or after `close()`). */
  grpcServer(): GrpcServer | undefined;
}

/** A handler or service method as `ServerGrpc` passes them (Nest types them `Function`). */
type AnyFunction = (...args: never[]) => unknown;

/** The members of `ServerGrpc` this door relies on (protected ones included). */
interface ServerGrpcShape {
  listen(callback: (error?: Error | null) => void): Promise<void>;
  close(): Promise<void>;
  addHandler(pattern: string, callback: AnyFunction): void;
  createServiceMethod(handler: AnyFunction, native: unknown, streamType: unknown): AnyFunction;
  createPattern(service: string, rpc: string, streaming: string): string;
  getKeepaliveOptions(): Record<string, unknown>;
  createClient(): Promise<GrpcServer>;
  grpcClient: GrpcServer | undefined | null;
}
type ServerGrpcClass = new (options: object) => ServerGrpcShape;

const PROTOTYPE_MEMBERS = ['listen', 'close', 'addHandler', 'createServiceMethod', 'createPattern', 'getKeepaliveOptions', 'createClient'] as const;

/** Marks our handlers among the microservice's message handlers. */
const NATIVE = Symbol('longlink:grpc-native');

/** Fails bootstrap when `ServerGrpc` lacks a member this door relies on. */
export function checkNestGrpcServer(microservices: typeof Microservices): ServerGrpcClass {
  const ServerGrpc = (microservices as { ServerGrpc?: unknown }).ServerGrpc;
  if (typeof ServerGrpc !== 'function') throw nestShapeError('ServerGrpc');
  const proto = ServerGrpc.prototype as Record<string, unknown>;
  for (const member of PROTOTYPE_MEMBERS) {
    if (typeof proto[member] !== 'function') throw nestShapeError(`ServerGrpc.prototype.${member}()`);
  }
  return ServerGrpc as unknown as ServerGrpcClass;
}

/**
 * The pattern `ServerGrpc` looks a method's handler up by, computed by Nest's own
 * `createPattern()` (it reads no instance state), so no copy of its format lives here.
 * `requestStream`: the method takes a stream of requests (bidi); Nest then looks for a
 * pass-through handler (`GrpcMethodStreamingType.PT_STREAMING`, `'pt_stream'`), else for a
 * unary-request one (`NO_STREAMING`, `'no_stream'`).
 */
export function nestGrpcPattern(microservices: typeof Microservices, service: string, rpc: string, requestStream = false): string {
  const ServerGrpc = checkNestGrpcServer(microservices);
  return (ServerGrpc.prototype as ServerGrpcShape).createPattern.call(undefined, service, rpc, requestStream ? 'pt_stream' : 'no_stream');
}

/** How to start a Nest gRPC server whose handlers are served natively. */
export interface NestGrpcServerSetup {
  /** `ServerGrpc`'s options (url, packageDefinition, package, keepalive, onLoadPackageDefinition). */
  options: Record<string, unknown>;
  /** Handlers by {@link nestGrpcPattern}. */
  handlers: Map<string, NativeGrpcHandler>;
  /** Builds and binds the grpc-js server, given Nest's keepalive channel options. */
  createServer(keepalive: Record<string, unknown>): Promise<GrpcServer>;
  /** Patterns that must have been attached (the generic service's): a bootstrap error names the version otherwise. */
  required: string[];
}

/**
 * Starts `ServerGrpc` with `setup.handlers` served natively. Resolves with the server and the
 * patterns Nest attached (a handler bound to a method the loaded protos do not have is never
 * attached: the caller reports it).
 */
export async function startNestGrpcServer(
  microservices: typeof Microservices,
  setup: NestGrpcServerSetup,
): Promise<{ server: NestGrpcServer; attached: Set<string> }> {
  const ServerGrpc = checkNestGrpcServer(microservices);
  const attached = new Set<string>();
  /** Nest's gRPC server, with our handlers served natively and the grpc-js server built by us. */
  class LonglinkGrpcServer extends ServerGrpc {
    override createServiceMethod(handler: AnyFunction, native: unknown, streamType: unknown): AnyFunction {
      const ours = (handler as { [NATIVE]?: { key: string; serve: NativeGrpcHandler } })[NATIVE];
      if (!ours) return super.createServiceMethod(handler, native, streamType);
      attached.add(ours.key);
      return ours.serve;
    }

    override createClient(): Promise<GrpcServer> {
      return setup.createServer(this.getKeepaliveOptions());
    }
  }
  const server = new LonglinkGrpcServer(setup.options);
  for (const [key, serve] of setup.handlers) {
    server.addHandler(
      key,
      Object.assign(() => undefined, { [NATIVE]: { key, serve } }),
    );
  }
  await new Promise<void>((resolve, reject) => void server.listen((error) => (error ? reject(error) : resolve())));
  const missing = !server.grpcClient
    ? 'the grpc-js server in ServerGrpc.grpcClient after listen()'
    : setup.required.some((key) => !attached.has(key))
      ? 'handlers built through ServerGrpc.createServiceMethod() under ServerGrpc.createPattern()'
      : undefined;
  if (missing) {
    await server.close();
    throw nestShapeError(missing);
  }
  return { server: { close: () => server.close(), grpcServer: () => server.grpcClient ?? undefined }, attached };
}

function nestShapeError(missing: string): Error {
  return shapeError('gRPC transport', '@nestjs/microservices', MICROSERVICES_EXPECTED, missing);
}
