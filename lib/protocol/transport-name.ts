/** The transports a stream can be served and subscribed over. */
export type TransportName = 'sse' | 'ws' | 'grpc';
