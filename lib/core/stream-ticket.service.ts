import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { StreamErrorCode } from '../protocol/stream-error-code.js';
import { StreamException } from '../errors/stream-exception.js';
import type { ResolvedLonglinkOptions } from '../interfaces/longlink-options.interface.js';
import type { StreamCall } from '../interfaces/stream-call.interface.js';
import type { IssueStreamTicketOptions, StreamTicketClaims } from '../interfaces/stream-ticket.interface.js';
import { LONGLINK_RESOLVED_OPTIONS } from '../longlink.tokens.js';
import { InMemoryTicketStore } from './in-memory-ticket-store.js';

/** Longest ticket accepted: bounds the cost of checking garbage. */
const MAX_TICKET_LENGTH = 2048;
/** An HMAC-SHA256 (32 bytes) in canonical unpadded base64url: 43 characters, the last one of 16. */
const SIGNATURE = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

interface TicketPayload {
  /** stream */
  s: string;
  /** expires at (epoch ms) */
  e: number;
  /** id */
  j: string;
  /** subject */
  u?: string;
  /** hash of the bound params */
  p?: string;
}

/** JSON with object keys sorted, so equal params hash equally whatever their key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function paramsHash(params: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(params)).digest('base64url');
}

function refuse(message: string): never {
  throw new StreamException(StreamErrorCode.UNAUTHENTICATED, message);
}

/**
 * Issues and checks stream tickets: `<payload>.<signature>`, both base64url, the signature an
 * HMAC-SHA256 of the payload (stream name, expiry, a random id, optional subject and params
 * hash). Opaque to clients, URL-safe, passed as `?ticket=` (PROTOCOL.md §3.8).
 *
 * Hand-written on `node:crypto` rather than a JWT library: the format is internal (issuer and
 * checker are this class), has one algorithm and no header to negotiate, so none of a JWT
 * library's surface (and its algorithm-confusion pitfalls) is needed.
 *
 * @publicApi
 */
@Injectable()
export class StreamTicketService {
  private readonly secret: Buffer;
  private readonly ttlMs: number;
  private readonly store;

  constructor(@Inject(LONGLINK_RESOLVED_OPTIONS) options: ResolvedLonglinkOptions) {
    const { secret, ttlMs, store } = options.tickets;
    this.secret = secret === undefined ? randomBytes(32) : Buffer.from(secret);
    this.ttlMs = ttlMs;
    this.store = store ?? new InMemoryTicketStore();
  }

  /**
   * A ticket for one subscription to `stream` (its full name, e.g. `demo/secure`), valid once
   * within its lifetime. Issue it from an authenticated route (session cookie, bearer token),
   * hand it to the browser, which opens `EventSource('/demo/secure?ticket=...')`.
   */
  issue(stream: string, options: IssueStreamTicketOptions = {}): string {
    const ttlMs = options.ttlMs ?? this.ttlMs;
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) throw new TypeError('ttlMs must be a positive integer');
    const payload: TicketPayload = { s: stream, e: Date.now() + ttlMs, j: randomBytes(12).toString('base64url') };
    if (options.subject !== undefined) payload.u = options.subject;
    if (options.params !== undefined) payload.p = paramsHash(options.params);
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${body}.${this.sign(body)}`;
  }

  /**
   * Checks the call's ticket (`call.ticket`) and uses it up. Throws `UNAUTHENTICATED` when it
   * is missing, malformed, tampered with, expired, for another stream or other params, or
   * already used.
   */
  async verify(call: Pick<StreamCall, 'stream' | 'params' | 'ticket'>): Promise<StreamTicketClaims> {
    const ticket = call.ticket;
    if (!ticket) refuse('A stream ticket is required');
    if (ticket.length > MAX_TICKET_LENGTH) refuse('Invalid stream ticket');
    const dot = ticket.indexOf('.');
    if (dot <= 0) refuse('Invalid stream ticket');
    const body = ticket.slice(0, dot);
    // The signature is compared as text with the canonical base64url of the HMAC: decoding
    // first would accept variants (padding, '+'/'/', junk, other trailing bits) of one signature.
    const signature = ticket.slice(dot + 1);
    if (!SIGNATURE.test(signature) || !timingSafeEqual(Buffer.from(signature), Buffer.from(this.sign(body)))) {
      refuse('Invalid stream ticket');
    }
    let payload: TicketPayload;
    try {
      payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as TicketPayload;
    } catch {
      refuse('Invalid stream ticket');
    }
    if (typeof payload.s !== 'string' || typeof payload.e !== 'number' || typeof payload.j !== 'string') {
      refuse('Invalid stream ticket');
    }
    if (payload.e <= Date.now()) refuse('Stream ticket expired');
    if (payload.s !== call.stream) refuse('Stream ticket is for another stream');
    if (payload.p !== undefined && payload.p !== paramsHash(call.params)) refuse('Stream ticket is for other params');
    if (!(await this.store.consume(payload.j, payload.e))) refuse('Stream ticket already used');
    return { stream: payload.s, subject: payload.u, expiresAt: payload.e, id: payload.j };
  }

  private sign(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url');
  }
}
