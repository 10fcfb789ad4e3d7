import type * as TS from 'typescript';
import { CodegenError } from './codegen-error.js';
import type { DecoratorReader } from './decorator-reader.js';
import type { Definitions, PropertyNode, TypeNode } from './type-model.js';
import type { TypeScript } from './typescript.loader.js';
import { applyRules, readRules } from './validator-rules.js';

/** Type names that never become definitions of their own. */
const BUILTIN_NAMES = new Set(['__type', '__object', 'Object', 'Array', 'ReadonlyArray']);

/** Names the client file declares itself. */
const RESERVED_NAMES = new Set(['Streams', 'defineStream']);

/** A TypeScript name made of identifier characters, for names built from type arguments. */
function identifier(text: string): string {
  return text.replace(/[^A-Za-z0-9_]/g, '');
}

/**
 * Turns compiler types into the generator's {@link TypeNode}s, collecting named object types
 * (classes, interfaces, type aliases) as definitions. Reads what a JSON value can be: methods
 * and symbol keys are left out, `Date` is an ISO string, `undefined` in a union or `?` makes a
 * property optional, a class field with an initializer is optional (the server's default
 * applies), and class-validator decorators refine the property (`@IsInt`, `@Min`, ...).
 */
export class TypeReader {
  readonly definitions: Definitions = new Map();
  private readonly names = new Map<TS.Type, string>();

  constructor(
    private readonly ts: TypeScript,
    private readonly checker: TS.TypeChecker,
    private readonly decorators: DecoratorReader,
  ) {}

  /**
   * Reads a type that must be an object, as a named definition: its own name when it has one,
   * else `fallbackName` (the generator's name for an inline type).
   */
  readNamedObject(type: TS.Type, at: TS.Node, fallbackName: string, what: string): TypeNode & { kind: 'ref' } {
    const node = this.read(type, at, fallbackName);
    if (node.kind === 'ref') return node;
    if (node.kind === 'object') return { kind: 'ref', name: this.define(fallbackName, undefined, node) };
    throw new CodegenError(`${what} must be an object type, got ${this.checker.typeToString(type)}`);
  }

  /** Reads any type; an inline object at the root stays inline unless a name is given. */
  read(type: TS.Type, at: TS.Node, rootName?: string): TypeNode {
    const { ts } = this;
    const f = type.flags;
    if (f & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return { kind: 'unknown' };
    if (f & ts.TypeFlags.StringLiteral) return { kind: 'literal', value: (type as TS.StringLiteralType).value };
    if (f & ts.TypeFlags.NumberLiteral) return { kind: 'literal', value: (type as TS.NumberLiteralType).value };
    if (f & ts.TypeFlags.BooleanLiteral) return { kind: 'literal', value: (type as { intrinsicName?: string }).intrinsicName === 'true' };
    if (f & ts.TypeFlags.StringLike) return { kind: 'string' };
    if (f & ts.TypeFlags.NumberLike) return { kind: 'number' };
    if (f & ts.TypeFlags.BooleanLike) return { kind: 'boolean' };
    if (f & ts.TypeFlags.Null) return { kind: 'null' };
    if (f & ts.TypeFlags.BigIntLike) return { kind: 'string', description: 'a bigint, as a decimal string' };
    if (type.isUnion()) return this.readUnion(type.types, at);
    if (f & ts.TypeFlags.Object || type.isIntersection()) return this.readObjectType(type, at, rootName);
    return { kind: 'unknown' };
  }

  private readUnion(types: readonly TS.Type[], at: TS.Node): TypeNode {
    const { ts } = this;
    const members = types.filter((t) => !(t.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Void)));
    const nodes = members.map((t) => this.read(t, at));
    const hasTrue = nodes.some((n) => n.kind === 'literal' && n.value === true);
    const hasFalse = nodes.some((n) => n.kind === 'literal' && n.value === false);
    let out = nodes.filter((n) => !(hasTrue && hasFalse && n.kind === 'literal' && typeof n.value === 'boolean'));
    if (hasTrue && hasFalse) out.push({ kind: 'boolean' });
    if (out.length > 1 && out.every((n) => n.kind === 'literal' && typeof n.value !== 'boolean')) {
      return { kind: 'enum', values: out.map((n) => (n as { value: string | number }).value) };
    }
    out = out.filter((n, i) => out.findIndex((m) => JSON.stringify(m) === JSON.stringify(n)) === i);
    if (out.length === 0) return { kind: 'unknown' };
    return out.length === 1 ? out[0]! : { kind: 'union', members: out };
  }

  private readObjectType(type: TS.Type, at: TS.Node, rootName: string | undefined): TypeNode {
    const { ts, checker } = this;
    if (checker.isArrayType(type)) {
      return { kind: 'array', items: this.read(checker.getTypeArguments(type as TS.TypeReference)[0]!, at) };
    }
    if (checker.isTupleType(type)) {
      const items = checker.getTypeArguments(type as TS.TypeReference);
      return { kind: 'array', items: items.length ? this.readUnion(items, at) : { kind: 'unknown' } };
    }
    const symbol = type.aliasSymbol ?? type.getSymbol();
    if (symbol?.name === 'Date') return { kind: 'string', constraints: { format: 'date-time' } };
    if (type.getCallSignatures().length > 0) return { kind: 'unknown' };
    const stringIndex = checker.getIndexInfoOfType(type, ts.IndexKind.String);
    if (stringIndex && type.getProperties().length === 0) return { kind: 'record', values: this.read(stringIndex.type, at) };
    const existing = this.names.get(type);
    if (existing) return { kind: 'ref', name: existing };
    const name = this.nameOf(type) ?? rootName;
    if (name === undefined) return this.readObject(type, at);
    // Named: registered before its properties are read, so a recursive type refers to itself.
    const unique = this.define(name, type, { kind: 'object', properties: [] });
    const object = this.readObject(type, at);
    const doc = symbol ? this.doc(symbol) : undefined;
    this.definitions.set(unique, doc ? { ...object, description: doc } : object);
    return { kind: 'ref', name: unique };
  }

  private readObject(type: TS.Type, at: TS.Node): TypeNode & { kind: 'object' } {
    const { ts, checker } = this;
    const properties: PropertyNode[] = [];
    for (const prop of checker.getPropertiesOfType(type)) {
      if (prop.name.startsWith('__@') || prop.flags & ts.SymbolFlags.Method) continue;
      const declaration = prop.valueDeclaration;
      const propType = checker.getTypeOfSymbolAtLocation(prop, declaration ?? at);
      if (propType.getCallSignatures().length > 0) continue;
      let node = this.read(propType, declaration ?? at);
      let optional = !!(prop.flags & ts.SymbolFlags.Optional) || (propType.isUnion() && propType.types.some((t) => t.flags & ts.TypeFlags.Undefined));
      if (declaration && ts.isPropertyDeclaration(declaration)) {
        if (declaration.initializer) optional = true; // the class's default applies when the client leaves it out
        const rules = readRules(
          this.decorators.decorators(declaration).map((d) => ({ name: d.name, args: d.args.map((a) => this.decorators.evaluate(a)) })),
        );
        optional ||= rules.optional;
        node = applyRules(node, rules);
      }
      const description = this.doc(prop);
      properties.push({ name: prop.name, type: node, optional, ...(description ? { description } : {}) });
    }
    return { kind: 'object', properties };
  }

  /** A named type's name (`Page<User>` → `PageUser`); `undefined` for anonymous object types. */
  private nameOf(type: TS.Type): string | undefined {
    const symbol = type.aliasSymbol ?? type.getSymbol();
    if (!symbol || BUILTIN_NAMES.has(symbol.name)) return undefined;
    if (!type.aliasSymbol && !(symbol.flags & (this.ts.SymbolFlags.Class | this.ts.SymbolFlags.Interface))) return undefined;
    const args = type.aliasSymbol ? (type.aliasTypeArguments ?? []) : this.checker.getTypeArguments(type as TS.TypeReference);
    return identifier(symbol.name) + args.map((a) => identifier(this.checker.typeToString(a))).join('');
  }

  /** Adds a definition under a free name (a numbered suffix when another type has the name) and returns the name. */
  define(name: string, type: TS.Type | undefined, node: TypeNode & { kind: 'object' }): string {
    let unique = name;
    for (let i = 2; this.definitions.has(unique) || RESERVED_NAMES.has(unique); i++) unique = `${name}${i}`;
    this.definitions.set(unique, node);
    if (type) this.names.set(type, unique);
    return unique;
  }

  private doc(symbol: TS.Symbol): string | undefined {
    const text = this.ts.displayPartsToString(symbol.getDocumentationComment(this.checker)).trim();
    return text || undefined;
  }
}
