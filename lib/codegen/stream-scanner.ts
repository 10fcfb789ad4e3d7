import type * as TS from 'typescript';
import { CodegenError } from './codegen-error.js';
import { DecoratorReader, NEUTRAL_VERSION, UNKNOWN_VALUE } from './decorator-reader.js';
import type { AppModel, StreamModel, TypeNode } from './type-model.js';
import { TypeReader } from './type-reader.js';
import type { TypeScript } from './typescript.loader.js';

/** Types whose first type argument is what a handler emits. */
const STREAM_TYPES = new Set([
  'Observable',
  'Subject',
  'BehaviorSubject',
  'ReplaySubject',
  'AsyncIterable',
  'AsyncIterableIterator',
  'AsyncGenerator',
]);
const TRANSPORTS = ['sse', 'ws', 'grpc'] as const;

/** `demo/counter` → `DemoCounter`: a type name made from a stream name. */
export function pascalName(streamName: string): string {
  return streamName
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((s) => s[0]!.toUpperCase() + s.slice(1))
    .join('');
}

/** Joins path pieces into a stream name as the server does (no empty segments). */
function joinName(...parts: string[]): string {
  return parts
    .flatMap((p) => p.split('/'))
    .filter((s) => s.length > 0)
    .join('/');
}

/**
 * Finds the `@Stream()` handlers of `@Controller()` classes in source files and reads their
 * full names, params, event data, transports, SSE method, gRPC binding and `@UseGuards()` with
 * the compiler's checker. Names are computed as `StreamRegistry` computes them.
 */
export class StreamScanner {
  private readonly decorators: DecoratorReader;
  private readonly types: TypeReader;
  private readonly checker: TS.TypeChecker;

  constructor(
    private readonly ts: TypeScript,
    program: TS.Program,
  ) {
    this.checker = program.getTypeChecker();
    this.decorators = new DecoratorReader(ts, this.checker);
    this.types = new TypeReader(ts, this.checker, this.decorators);
  }

  /** Reads every stream of these files (sorted by first name). */
  scan(files: readonly TS.SourceFile[]): AppModel {
    const streams: StreamModel[] = [];
    const visit = (node: TS.Node): void => {
      if (this.ts.isClassDeclaration(node)) this.scanClass(node, streams);
      this.ts.forEachChild(node, visit);
    };
    for (const file of files) visit(file);
    streams.sort((a, b) => (a.names[0]! < b.names[0]! ? -1 : 1));
    const seen = new Map<string, string>();
    for (const s of streams) {
      for (const name of s.names) {
        if (seen.has(name)) throw new CodegenError(`duplicate stream name "${name}": ${seen.get(name)} and ${s.location}`);
        seen.set(name, s.location);
      }
    }
    return { streams, definitions: this.types.definitions };
  }

  private scanClass(node: TS.ClassDeclaration, out: StreamModel[]): void {
    const controller = this.decorators.find(node, 'Controller');
    if (!controller) return;
    const className = node.name?.text ?? '(anonymous class)';
    const { paths, versions: classVersions } = this.controllerOptions(controller.args[0], className);
    const classGuards = this.guards(node);
    for (const member of this.methods(node)) {
      const stream = this.decorators.decorators(member).find((d) => d.name === 'Stream' && /stream\.decorator\.(d\.)?[cm]?[jt]s$/.test(d.file));
      if (!stream) continue;
      const methodName = member.name.getText();
      const location = `${className}.${methodName}`;
      out.push(this.scanMethod(member, stream.args, { paths, classVersions, classGuards, location, methodName }));
    }
  }

  /** The class's methods and those it inherits (an override hides the base method), as the registry sees them. */
  private methods(node: TS.ClassDeclaration): TS.MethodDeclaration[] {
    const { ts } = this;
    const out: TS.MethodDeclaration[] = [];
    const seen = new Set<string>();
    for (let current: TS.ClassDeclaration | undefined = node, depth = 0; current && depth < 20; depth++) {
      for (const member of current.members) {
        if (!ts.isMethodDeclaration(member) || seen.has(member.name.getText())) continue;
        seen.add(member.name.getText());
        out.push(member);
      }
      const base: TS.ExpressionWithTypeArguments | undefined = current.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword)
        ?.types[0];
      const declaration: TS.Declaration | undefined = base
        ? this.checker.getTypeAtLocation(base.expression).getSymbol()?.valueDeclaration
        : undefined;
      current = declaration && ts.isClassDeclaration(declaration) ? declaration : undefined;
    }
    return out;
  }

  private scanMethod(
    method: TS.MethodDeclaration,
    args: readonly TS.Expression[],
    at: { paths: string[]; classVersions: (string | typeof NEUTRAL_VERSION)[]; classGuards: string[]; location: string; methodName: string },
  ): StreamModel {
    const { ts, checker } = this;
    const first = args[0];
    let local: string = at.methodName;
    let contract: { name: string; type: TS.Type } | undefined;
    if (first && !(ts.isIdentifier(first) && first.text === 'undefined')) {
      const value = this.decorators.evaluate(first);
      if (typeof value === 'string') local = value;
      else contract = this.contract(first, at.location);
    }
    if (contract) local = contract.name.slice(contract.name.lastIndexOf('/') + 1);
    const options = args[1] ? this.decorators.evaluate(args[1]) : {};
    if (options === UNKNOWN_VALUE || typeof options !== 'object' || options === null) {
      throw new CodegenError(`${at.location}: the @Stream() options must be an object literal of constants`);
    }
    const { transports, sse, grpc, input } = options as {
      transports?: unknown;
      sse?: { method?: unknown };
      grpc?: { service?: unknown; method?: unknown };
      input?: unknown;
    };
    const versionDecorator = this.decorators.find(method, 'Version');
    const versions = versionDecorator ? this.versions(versionDecorator.args[0], at.location) : at.classVersions;
    const names = at.paths.flatMap((path) => versionPrefixes(versions).map((v) => joinName(v ?? '', path, local)));
    if (contract && !names.includes(contract.name)) {
      throw new CodegenError(`${at.location} is bound to the contract "${contract.name}" but its full name is ${names.join(' / ')}`);
    }
    const base = pascalName(names[0]!);
    const [contractParams, contractEvent, contractInput] = contract ? this.contractTypes(contract.type) : [];
    const paramsDecl = method.parameters.find((p) => this.decorators.find(p, 'StreamParams'));
    const paramsType = contractParams ?? (paramsDecl ? checker.getTypeAtLocation(paramsDecl) : undefined);
    const params = paramsType
      ? this.types.readNamedObject(paramsType, paramsDecl ?? method, `${base}Params`, `${at.location}: the params`)
      : { kind: 'ref' as const, name: this.types.define(`${base}Params`, undefined, { kind: 'object', properties: [] }) };
    const signature = checker.getSignatureFromDeclaration(method);
    const event = this.eventNode(contractEvent ? [contractEvent] : signature ? this.emitted(signature.getReturnType()) : [], method, `${base}Event`);
    const doc = signature ? ts.displayPartsToString(signature.getDocumentationComment(checker)).trim() : '';
    const model: StreamModel = {
      names,
      location: at.location,
      params,
      event,
      sseMethod: sse?.method === 'POST' ? 'POST' : 'GET',
      guards: [...new Set([...at.classGuards, ...this.guards(method)])],
    };
    if (doc) model.description = doc;
    if (input !== undefined && input !== false) model.input = this.inputNode(method, contractInput, `${base}Input`);
    if (Array.isArray(transports) && transports.every((t) => (TRANSPORTS as readonly unknown[]).includes(t))) {
      model.transports = transports as StreamModel['transports'];
    } else if (transports !== undefined) {
      throw new CodegenError(`${at.location}: transports must be a constant list of 'sse', 'ws', 'grpc'`);
    }
    if (grpc !== undefined) {
      if (typeof grpc?.service !== 'string' || typeof grpc.method !== 'string') {
        throw new CodegenError(`${at.location}: grpc must be a constant { service, method } of strings`);
      }
      model.grpc = { service: grpc.service, method: grpc.method };
    }
    return model;
  }

  /** The types a handler's result emits: Promise and Observable / AsyncIterable unwrapped. */
  private emitted(result: TS.Type): TS.Type[] {
    const awaited = this.checker.getAwaitedType(result) ?? result;
    const members = awaited.isUnion() ? awaited.types : [awaited];
    return members.flatMap((t) => {
      const symbol = t.getSymbol();
      if (!symbol || !STREAM_TYPES.has(symbol.name)) return [];
      const arg = this.checker.getTypeArguments(t as TS.TypeReference)[0];
      return arg ? [arg] : [];
    });
  }

  /** The event data node: `StreamEvent<T>` (from `tracked()` or the hub) unwrapped to `T`. */
  private eventNode(emitted: TS.Type[], at: TS.Node, name: string): TypeNode {
    const data = emitted
      .flatMap((t) => (t.isUnion() ? t.types : [t]))
      .map((t) => {
        if (t.getSymbol()?.name !== 'StreamEvent') return t;
        const prop = t.getProperty('data');
        return prop ? this.checker.getTypeOfSymbolAtLocation(prop, at) : this.checker.getUnknownType();
      });
    if (data.length === 0) return { kind: 'unknown' };
    if (data.length === 1) return this.types.read(data[0]!, at, name);
    // `Observable<StreamEvent<T> | T>`: the same data twice, written as two types
    const nodes = data.map((t) => this.types.read(t, at));
    const members = nodes.filter((n, i) => nodes.findIndex((m) => JSON.stringify(m) === JSON.stringify(n)) === i);
    if (members.length > 1) return { kind: 'union', members };
    const only = members[0]!;
    return only.kind === 'object' ? { kind: 'ref', name: this.types.define(name, undefined, only) } : only;
  }

  /**
   * A two-way stream's client message: the contract's third type; else the `@StreamInput()`
   * parameter's type with `Observable<T>` and `StreamInputMessage<T>` unwrapped; else the class
   * of its `{ type }` option; else `unknown`.
   */
  private inputNode(method: TS.MethodDeclaration, contractInput: TS.Type | undefined, name: string): TypeNode {
    const { ts, checker } = this;
    const decl = method.parameters.find((p) => this.decorators.find(p, 'StreamInput'));
    let type = contractInput && !(contractInput.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) ? contractInput : undefined;
    if (!type && decl) {
      const [element] = this.emitted(checker.getTypeAtLocation(decl));
      const data = element?.getSymbol()?.name === 'StreamInputMessage' ? element.getProperty('data') : undefined;
      type = data ? checker.getTypeOfSymbolAtLocation(data, decl) : element;
      if (!type || type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) type = this.inputClass(decl) ?? type;
    }
    return type ? this.types.read(type, decl ?? method, name) : { kind: 'unknown' };
  }

  /** The class named by `@StreamInput({ type: X })`, as an instance type. */
  private inputClass(param: TS.ParameterDeclaration): TS.Type | undefined {
    const { ts } = this;
    const options = this.decorators.find(param, 'StreamInput')?.args[0];
    if (!options || !ts.isObjectLiteralExpression(options)) return undefined;
    const prop = options.properties.find((p) => p.name && ts.isIdentifier(p.name) && p.name.text === 'type');
    const value = prop && ts.isPropertyAssignment(prop) ? prop.initializer : undefined;
    const symbol = value ? this.checker.getSymbolAtLocation(value) : undefined;
    const target = symbol && symbol.flags & ts.SymbolFlags.Alias ? this.checker.getAliasedSymbol(symbol) : symbol;
    return target && target.flags & ts.SymbolFlags.Class ? this.checker.getDeclaredTypeOfSymbol(target) : undefined;
  }

  /** `@Stream(contract)`: the contract's name (from its `defineStream('…')` call) and type. */
  private contract(expr: TS.Expression, location: string): { name: string; type: TS.Type } {
    const { ts } = this;
    let init: TS.Expression | undefined = expr;
    const declared = this.decorators.declaration(expr);
    if (declared?.node && ts.isVariableDeclaration(declared.node)) init = declared.node.initializer;
    if (init && ts.isCallExpression(init) && init.arguments[0]) {
      const name = this.decorators.evaluate(init.arguments[0]);
      if (typeof name === 'string') return { name, type: this.checker.getTypeAtLocation(expr) };
    }
    throw new CodegenError(`${location}: @Stream() takes a constant name or a contract made by defineStream('<name>')`);
  }

  /** `StreamContract<Params, Event, Input>` → [Params, Event, Input]. */
  private contractTypes(type: TS.Type): [TS.Type | undefined, TS.Type | undefined, TS.Type | undefined] {
    const args = type.aliasTypeArguments ?? this.checker.getTypeArguments(type as TS.TypeReference);
    return [args[0], args[1], args[2]];
  }

  private controllerOptions(arg: TS.Expression | undefined, location: string): { paths: string[]; versions: (string | typeof NEUTRAL_VERSION)[] } {
    if (!arg) return { paths: [''], versions: [] };
    const value = this.decorators.evaluate(arg);
    const paths = (p: unknown): string[] => {
      if (p === undefined) return [''];
      if (typeof p === 'string') return [p];
      if (Array.isArray(p) && p.every((x) => typeof x === 'string')) return p.length ? p : [''];
      throw new CodegenError(`${location}: the @Controller() path must be a constant string or list of strings`);
    };
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const { path, version } = value as { path?: unknown; version?: unknown };
      return { paths: paths(path), versions: version === undefined ? [] : this.versionList(version, location) };
    }
    return { paths: paths(value), versions: [] };
  }

  private versions(arg: TS.Expression | undefined, location: string): (string | typeof NEUTRAL_VERSION)[] {
    return arg ? this.versionList(this.decorators.evaluate(arg), location) : [];
  }

  private versionList(value: unknown, location: string): (string | typeof NEUTRAL_VERSION)[] {
    const list = Array.isArray(value) ? value : [value];
    if (!list.every((v) => typeof v === 'string' || v === NEUTRAL_VERSION)) {
      throw new CodegenError(`${location}: versions must be constant strings or VERSION_NEUTRAL`);
    }
    return list as (string | typeof NEUTRAL_VERSION)[];
  }

  /** Class names in `@UseGuards(A, B)` (instances and factories are named by their expression). */
  private guards(node: TS.Node): string[] {
    return this.decorators
      .decorators(node)
      .filter((d) => d.name === 'UseGuards')
      .flatMap((d) => d.args.map((a) => (this.ts.isIdentifier(a) ? (this.decorators.declaration(a)?.name ?? a.text) : a.getText())));
  }
}

/** Name prefixes for versions, as the registry makes them: none, or `v<version>` each (neutral keeps the plain name too). */
function versionPrefixes(versions: (string | typeof NEUTRAL_VERSION)[]): (string | undefined)[] {
  const named = [...new Set(versions.filter((v): v is string => typeof v === 'string'))];
  const prefixed = named.map((v) => `v${v}`);
  if (named.length === 0 || versions.includes(NEUTRAL_VERSION)) return [undefined, ...prefixed];
  return prefixed;
}
