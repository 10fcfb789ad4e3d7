import type { ResolvedClientOptions } from './client.options.js';
import type { ClientTransport, TransportHandle, TransportRequest, TransportSink } from './client.types.js';
import { StreamError } from './stream-error.js';
import { StreamErrorCode } from '../protocol/stream-error-code.js';
import type { TransportName } from '../protocol/transport-name.js';

/** Node-only transport module, loaded on first use; a variable specifier, so browser bundles leave it out. */
export const GRPC_MODULE = './grpc.client-transport.js';

/** A transport whose module is imported on first use (gRPC: `@grpc/grpc-js` never reaches browsers). */
export class LazyTransport implements ClientTransport {
  private real: ClientTransport | undefined;
  private readonly loading: Promise<ClientTransport>;

  constructor(
    readonly name: TransportName,
    specifier: string,
    options: ResolvedClientOptions,
  ) {
    this.loading = (import(/* @vite-ignore */ specifier) as Promise<{ createTransport(o: ResolvedClientOptions): ClientTransport }>).then(
      (m) => (this.real = m.createTransport(options)),
    );
    this.loading.catch(() => undefined);
  }

  subscribe(request: TransportRequest, sink: TransportSink): TransportHandle {
    let inner: TransportHandle | undefined;
    let cancelled = false;
    const unavailable = (error: unknown) =>
      sink.end(new StreamError(StreamErrorCode.BAD_REQUEST, `${this.name} transport unavailable: ${String(error)}`));
    this.loading.then((t) => !cancelled && (inner = t.subscribe(request, sink)), unavailable).catch(unavailable);
    const cancel = () => {
      cancelled = true;
      inner?.();
    };
    return Object.assign(cancel, { send: (id: string, json: string) => inner?.send?.(id, json), end: () => inner?.end?.() });
  }

  drop(): void {
    this.real?.drop();
  }

  close(): void {
    this.real?.close();
  }
}
