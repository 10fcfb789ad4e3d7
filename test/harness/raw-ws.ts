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

/** The close frame a server sent: its code and reason. */
export interface CloseFrame {
  code: number;
  reason: string;
}

/**
 * Reads server frames (unmasked, RFC 6455 §5.2) from a byte stream until the close frame,
 * keeping only the unparsed tail.
 */
class ServerFrameReader {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly onClose: (frame: CloseFrame) => void) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      const b = this.pending;
      if (b.length < 2) return;
      let length = b[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (b.length < 4) return;
        length = b.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (b.length < 10) return;
        length = Number(b.readBigUInt64BE(2));
        offset = 10;
      }
      if (b.length < offset + length) return;
      if ((b[0]! & 0x0f) === 0x8) {
        const payload = b.subarray(offset, offset + length);
        this.onClose({ code: payload.length >= 2 ? payload.readUInt16BE(0) : 1005, reason: payload.subarray(2).toString('utf8') });
      }
      this.pending = b.subarray(offset + length);
    }
  }
}

/**
 * A WebSocket client written on a bare TCP socket: it can stop reading (socket.pause()),
 * which a well-behaved client library never does. `closeFrame` resolves with the code and
 * reason of the server's close frame once the client has read it, or `undefined` when the
 * connection ended without one.
 */
export async function rawWsConnect(
  port: number,
  path = '/ws',
): Promise<{ socket: net.Socket; closed: Promise<void>; closeFrame: Promise<CloseFrame | undefined> }> {
  const socket = net.connect(port, '127.0.0.1');
  const head = deferred<void>();
  const closed = deferred<void>();
  const closeFrame = deferred<CloseFrame | undefined>();
  const reader = new ServerFrameReader((frame) => closeFrame.settled || closeFrame.resolve(frame));
  let buffer: Buffer = Buffer.alloc(0);
  let upgraded = false;
  socket.on('data', (chunk: Buffer) => {
    if (upgraded) return reader.push(chunk);
    buffer = Buffer.concat([buffer, chunk]);
    const end = buffer.indexOf('\r\n\r\n');
    if (end < 0) return;
    upgraded = true;
    const status = buffer.subarray(0, buffer.indexOf('\r\n')).toString('latin1');
    if (!status.startsWith('HTTP/1.1 101')) return head.reject(new Error(status));
    head.resolve();
    if (buffer.length > end + 4) reader.push(buffer.subarray(end + 4));
  });
  socket.on('close', () => {
    closed.resolve();
    if (!closeFrame.settled) closeFrame.resolve(undefined);
  });
  socket.on('error', () => undefined);
  socket.once('connect', () => {
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  });
  await head.promise;
  return { socket, closed: closed.promise, closeFrame: closeFrame.promise };
}
