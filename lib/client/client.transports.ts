import type { ResolvedClientOptions } from './client.options.js';
import type { ClientTransport, TransportName } from './client.types.js';
import { GRPC_MODULE, LazyTransport } from './lazy.client-transport.js';
import { SseClientTransport } from './sse.client-transport.js';
import { WsClientTransport } from './ws.client-transport.js';

/** One client's transports, each made on first use (gRPC's module loaded then). */
export class ClientTransports {
  private readonly made = new Map<TransportName, ClientTransport>();

  constructor(private readonly options: ResolvedClientOptions) {}

  /** The transport `name`, made now if it was not yet. */
  get(name: TransportName): ClientTransport {
    let t = this.made.get(name);
    if (!t) {
      const options = this.options;
      t =
        name === 'ws'
          ? new WsClientTransport(options, wsUrl(options))
          : name === 'sse'
            ? new SseClientTransport(options)
            : new LazyTransport(name, GRPC_MODULE, options);
      this.made.set(name, t);
    }
    return t;
  }

  /** Opens a WebSocket only to see whether one opens now. */
  probeWs(): Promise<boolean> {
    return (this.get('ws') as WsClientTransport).probe();
  }

  /** Drops every connection as if the network failed. */
  drop(): void {
    for (const t of this.made.values()) t.drop();
  }

  /** Closes every connection. */
  close(): void {
    for (const t of this.made.values()) t.close();
  }
}

function wsUrl(options: ResolvedClientOptions): string {
  const url = new URL(options.wsPath, options.url);
  url.protocol = url.protocol.replace('http', 'ws');
  return url.href;
}
