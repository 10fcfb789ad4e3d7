import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { deferred } from './util.js';

/** A masked client text frame (RFC 6455 §5.2), for payloads of any size. */
export function clientTextFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const mask = randomBytes(4);
  let header: Buffer;
  if (payload.length < 126) {
    header = Buffer.from([0x81, 0x80 | payload.length]);
  } else if (payload.length < 65536) {
    header = Buffer.alloc(4);
    header[0] = 0x81;
    header[1] = 0x80 | 126;
    header.writeUInt16BE(payload.length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x81;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  const masked = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) masked[i] = payload[i]! ^ mask[i % 4]!;
  return Buffer.concat([header, mask, masked]);
}

/**
 * A WebSocket client written on a bare TCP socket: it can stop reading (socket.pause()),
 * which a well-behaved client library never does.
 */
export async function rawWsConnect(port: number, path = '/ws'): Promise<{ socket: net.Socket; closed: Promise<void> }> {
  const socket = net.connect(port, '127.0.0.1');
  const head = deferred<void>();
  const closed = deferred<void>();
  let buffer = '';
  const onData = (chunk: Buffer) => {
    buffer += chunk.toString('latin1');
    if (buffer.includes('\r\n\r\n')) {
      socket.off('data', onData);
      if (buffer.startsWith('HTTP/1.1 101')) head.resolve();
      else head.reject(new Error(buffer.split('\r\n')[0]));
    }
  };
  socket.on('data', onData);
  socket.on('close', () => closed.resolve());
  socket.on('error', () => undefined);
  socket.once('connect', () => {
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  });
  await head.promise;
  return { socket, closed: closed.promise };
}
