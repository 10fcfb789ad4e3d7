import { existsSync } from 'node:fs';
import { LONGLINK_GRPC_SERVICE } from '../../protocol/grpc.protocol.js';
import { fileURLToPath } from 'node:url';
import type { PackageDefinition } from '@grpc/proto-loader';
import { LonglinkConfigError } from '../../errors/longlink-config.error.js';
import type { StreamDefinition } from '../../core/stream-definition.js';
import type { ResolvedGrpcOptions } from '../../interfaces/longlink-options.interface.js';
import { cachingSerializer } from './grpc.framing.js';
import type { GrpcLibraries } from './grpc.loader.js';
import { decodeChannelRequest, decodeSubscribeRequest, nonThrowingDeserializer } from './grpc.request-decoder.js';

export { LONGLINK_GRPC_PACKAGE, LONGLINK_GRPC_SERVICE } from '../../protocol/grpc.protocol.js';

/** Loader options for the user's protos unless they give their own. */
const DEFAULT_LOADER = { keepCase: false, longs: String, enums: String, defaults: false, oneofs: true };

/** The codec functions of one method of a proto-loader service definition. */
type MethodCodec = { responseSerialize: (m: object) => Buffer; requestDeserialize: (b: Buffer) => object };

/** `longlink.proto` sits in `proto/` at the package root: two levels up from the source, three from `dist/`. */
export function longlinkProtoPath(): string {
  for (const candidate of ['../../../proto/longlink/v1/longlink.proto', '../../../../proto/longlink/v1/longlink.proto']) {
    const path = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error('LonglinkModule: proto/longlink/v1/longlink.proto not found beside the package');
}

/**
 * The service definitions the gRPC server serves: the generic service (its codecs replaced:
 * a broadcast event is encoded once, requests are decoded by hand with the params' depth
 * checked), plus the user's `grpc.protoPath` files.
 */
export function loadGrpcDefinitions(libs: GrpcLibraries, options: ResolvedGrpcOptions, maxParamsDepth: number): PackageDefinition {
  const own = libs.protoLoader.loadSync(longlinkProtoPath(), { ...DEFAULT_LOADER, keepCase: false });
  // A broadcast event is one message object for every call: encode it once.
  const subscribe = (own[LONGLINK_GRPC_SERVICE] as unknown as Record<string, MethodCodec>).Subscribe!;
  subscribe.responseSerialize = cachingSerializer(subscribe.responseSerialize);
  // Decoded by hand: params' depth checked as read, failures INVALID_ARGUMENT (not INTERNAL).
  subscribe.requestDeserialize = nonThrowingDeserializer((bytes) => decodeSubscribeRequest(bytes, maxParamsDepth));
  // Channel: the same for its events (wrapped in ChannelResponse) and its requests.
  const channel = (own[LONGLINK_GRPC_SERVICE] as unknown as Record<string, MethodCodec>).Channel!;
  channel.responseSerialize = cachingSerializer(channel.responseSerialize);
  channel.requestDeserialize = nonThrowingDeserializer((bytes) => decodeChannelRequest(bytes, maxParamsDepth));
  if (options.protoPath.length === 0) return own;
  const user = libs.protoLoader.loadSync(options.protoPath, { ...DEFAULT_LOADER, ...(options.loader ?? {}) });
  return { ...own, ...user };
}

/** Fully qualified names of the services in the user's packages. */
export function typedServices(definition: PackageDefinition, packages: readonly string[]): string[] {
  return Object.entries(definition)
    .filter(([name, value]) => packages.some((p) => name.startsWith(`${p}.`)) && isServiceDefinition(value))
    .map(([name]) => name);
}

/** The size in bytes each request message of a bound bidi method had on the wire (its input's size limit). */
const requestSizes = new WeakMap<object, number>();

/** The size a bound bidi method's request message had on the wire, when known. */
export function requestSize(message: object): number | undefined {
  return requestSizes.get(message);
}

/**
 * Checks a bound method's shape and makes its request deserializer one that never throws.
 * Server-streaming (`rpc M(Req) returns (stream Reply)`) for every stream; bidi
 * (`rpc M(stream In) returns (stream Out)`) for a stream that takes input (PROTOCOL.md §7.3).
 * Returns whether the method is bidi (`undefined`: not in the loaded protos).
 */
export function checkTypedMethod(definition: PackageDefinition, options: ResolvedGrpcOptions, def: StreamDefinition): boolean | undefined {
  const { service, method } = def.options.grpc!;
  const full = [service, ...options.package.map((p) => `${p}.${service}`)].find((n) => isServiceDefinition(definition[n]));
  type Rpc = MethodCodec & { requestStream: boolean; responseStream: boolean };
  const rpc = full ? (definition[full] as unknown as Record<string, Rpc>)[method] : undefined;
  if (!rpc) return undefined;
  if (!rpc.responseStream || (rpc.requestStream && !def.input)) {
    const shapes = def.input
      ? `server-streaming or bidi: rpc ${method}(Request) returns (stream Reply), or rpc ${method}(stream In) returns (stream Out)`
      : `server-streaming: rpc ${method}(Request) returns (stream Reply)${rpc.requestStream && rpc.responseStream ? ' (a bidi method needs @Stream(..., { input: true }))' : ''}`;
    throw new LonglinkConfigError(`LonglinkModule: gRPC method ${service}/${method} (for @Stream("${def.name}")) must be ${shapes}`);
  }
  // A bound method's requests: protobuf.js' own decoding (nesting capped at 100 messages),
  // failures INVALID_ARGUMENT. The application's other methods are left as they are.
  const deserialize = nonThrowingDeserializer(rpc.requestDeserialize);
  rpc.requestDeserialize = rpc.requestStream
    ? (bytes) => {
        const message = deserialize(bytes);
        requestSizes.set(message, bytes.length);
        return message;
      }
    : deserialize;
  return rpc.requestStream;
}

function isServiceDefinition(value: unknown): boolean {
  return !!value && typeof value === 'object' && !('format' in value) && Object.values(value).some((m) => m && typeof m === 'object' && 'path' in m);
}
