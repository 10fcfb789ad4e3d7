/**
 * The generator's own description of a type, read once from the TypeScript compiler and then
 * written out as TypeScript, JSON Schema and protobuf. Only what a JSON value can be: the
 * streams' params and event data travel as JSON (gRPC typed bindings as the same fields).
 */

/** Refinements read from class-validator decorators (or implied by the TypeScript type). */
export interface Constraints {
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minItems?: number;
  maxItems?: number;
}

/** One type. `ref` points at a named definition of the model's `definitions`. */
export type TypeNode =
  | { kind: 'string' | 'number' | 'integer' | 'boolean' | 'null' | 'unknown'; constraints?: Constraints; description?: string }
  | { kind: 'literal'; value: string | number | boolean; description?: string }
  | { kind: 'enum'; values: (string | number)[]; description?: string }
  | { kind: 'array'; items: TypeNode; constraints?: Constraints; description?: string }
  | { kind: 'record'; values: TypeNode; description?: string }
  | { kind: 'object'; properties: PropertyNode[]; description?: string }
  | { kind: 'union'; members: TypeNode[]; description?: string }
  | { kind: 'ref'; name: string; description?: string };

/** A property of an object type. */
export interface PropertyNode {
  name: string;
  type: TypeNode;
  /** Absent from the JSON when not given (`?`, `@IsOptional()`, or a class field with a default). */
  optional: boolean;
  description?: string;
}

/** Named object types (classes, interfaces, aliases, and the generator's names for inline ones), by name. */
export type Definitions = Map<string, TypeNode & { kind: 'object' }>;

/** What the generator knows of one `@Stream()` handler. */
export interface StreamModel {
  /** Full names (one per controller path and version), as clients use them. */
  names: string[];
  /** `Class.method`, for messages. */
  location: string;
  /** The handler's TSDoc summary, if any. */
  description?: string;
  /** The params: a `ref` to an object definition. */
  params: TypeNode & { kind: 'ref' };
  /** The event data: usually a `ref`; `unknown` when the handler's type says nothing. */
  event: TypeNode;
  /** A two-way stream's client message (`@Stream(name, { input: true })`); absent on one-way streams. */
  input?: TypeNode;
  /** Transports that serve the stream; `undefined` means every enabled one. */
  transports?: ('sse' | 'ws' | 'grpc')[];
  /** SSE method of the stream's route. */
  sseMethod: 'GET' | 'POST';
  /** The typed gRPC binding, if any. */
  grpc?: { service: string; method: string };
  /** Guard classes named in `@UseGuards()` on the method or its controller (global guards are not seen). */
  guards: string[];
}

/** The generator's whole view of an application. */
export interface AppModel {
  streams: StreamModel[];
  definitions: Definitions;
}
