import net from 'node:net';

/**
 * A round-robin TCP load balancer on 127.0.0.1 in front of HTTP backends, without sticky
 * sessions: each new connection goes to the next backend that accepts it (a refused one is
 * skipped). `refuseUpgrades` makes it answer WebSocket upgrade requests with a 503, as a proxy
 * that does not pass WebSocket would: clients then fall back to SSE.
 */
export class TcpBalancer {
  refuseUpgrades = false;
  /** Connections sent to each backend port, for assertions. */
  readonly routed = new Map<number, number>();
  private next = 0;
  private readonly sockets = new Set<net.Socket>();
  private readonly server: net.Server;

  private constructor(private readonly backends: number[]) {
    this.server = net.createServer((client) => this.accept(client));
  }

  static async start(backends: number[]): Promise<TcpBalancer> {
    const balancer = new TcpBalancer(backends);
    await new Promise<void>((resolve) => balancer.server.listen(0, '127.0.0.1', resolve));
    return balancer;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }

  private accept(client: net.Socket): void {
    this.track(client);
    client.once('data', (first) => {
      client.pause();
      if (this.refuseUpgrades && /^upgrade:\s*websocket/im.test(first.toString('latin1'))) {
        client.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      this.connect(client, first, 0);
    });
  }

  private connect(client: net.Socket, first: Buffer, tried: number): void {
    if (tried >= this.backends.length) {
      client.destroy();
      return;
    }
    const port = this.backends[this.next++ % this.backends.length]!;
    const upstream = net.connect(port, '127.0.0.1');
    let connected = false;
    upstream.once('error', () => {
      if (!connected && !client.destroyed) this.connect(client, first, tried + 1);
      else client.destroy();
    });
    upstream.once('connect', () => {
      connected = true;
      this.track(upstream);
      this.routed.set(port, (this.routed.get(port) ?? 0) + 1);
      upstream.write(first);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    });
  }

  /** Cuts every open connection (clients reconnect through the balancer). */
  dropAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
