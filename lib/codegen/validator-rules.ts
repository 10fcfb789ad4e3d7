import type { Constraints, TypeNode } from './type-model.js';

/** What class-validator decorators on one property say, as far as a schema can express it. */
export interface PropertyRules {
  /** `@IsOptional()`. */
  optional: boolean;
  /** Refines the property's type (applied by {@link applyRules}). */
  refine: ((node: TypeNode) => TypeNode)[];
}

/** One decorator: its name and constant argument values (`UNKNOWN` ones as given by the reader). */
export interface RuleInput {
  name: string;
  args: unknown[];
}

const FORMATS: Record<string, string> = {
  IsEmail: 'email',
  IsUUID: 'uuid',
  IsUrl: 'uri',
  IsDateString: 'date-time',
  IsISO8601: 'date-time',
  IsIP: 'ip',
};

/** Sets constraints on a string, number or array node (other nodes are left as they are). */
function constrain(patch: Constraints): (node: TypeNode) => TypeNode {
  return (node) =>
    node.kind === 'string' || node.kind === 'number' || node.kind === 'integer' || node.kind === 'array'
      ? { ...node, constraints: { ...node.constraints, ...patch } }
      : node;
}

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Reads class-validator decorators (by name: `IsInt`, `Min`, `Length`, `Matches`, `IsIn`,
 * `IsOptional`, ...) into schema refinements. `{ each: true }` applies a rule to an array's
 * items. Unknown decorators are ignored: the TypeScript type stays the source of truth.
 */
export function readRules(decorators: RuleInput[]): PropertyRules {
  const rules: PropertyRules = { optional: false, refine: [] };
  for (const { name, args } of decorators) {
    const last = args[args.length - 1];
    const each = typeof last === 'object' && last !== null && (last as { each?: unknown }).each === true;
    let refine: ((node: TypeNode) => TypeNode) | undefined;
    switch (name) {
      case 'IsOptional':
        rules.optional = true;
        break;
      case 'IsInt':
        refine = (node) => (node.kind === 'number' ? { ...node, kind: 'integer' } : node);
        break;
      case 'Min':
        if (num(args[0])) refine = constrain({ minimum: args[0] });
        break;
      case 'Max':
        if (num(args[0])) refine = constrain({ maximum: args[0] });
        break;
      case 'Length':
        if (num(args[0])) refine = constrain(num(args[1]) ? { minLength: args[0], maxLength: args[1] } : { minLength: args[0] });
        break;
      case 'MinLength':
        if (num(args[0])) refine = constrain({ minLength: args[0] });
        break;
      case 'MaxLength':
        if (num(args[0])) refine = constrain({ maxLength: args[0] });
        break;
      case 'IsNotEmpty':
        refine = (node) => (node.kind === 'string' ? constrain({ minLength: Math.max(1, node.constraints?.minLength ?? 1) })(node) : node);
        break;
      case 'Matches':
        if (args[0] instanceof RegExp) refine = constrain({ pattern: args[0].source });
        else if (typeof args[0] === 'string') refine = constrain({ pattern: args[0] });
        break;
      case 'ArrayMinSize':
        if (num(args[0])) refine = (node) => (node.kind === 'array' ? constrain({ minItems: args[0] as number })(node) : node);
        break;
      case 'ArrayMaxSize':
        if (num(args[0])) refine = (node) => (node.kind === 'array' ? constrain({ maxItems: args[0] as number })(node) : node);
        break;
      case 'IsIn':
        if (Array.isArray(args[0]) && args[0].every((v) => typeof v === 'string' || num(v))) {
          const values = args[0];
          refine = (node) => ({ kind: 'enum', values, ...(node.description ? { description: node.description } : {}) });
        }
        break;
      default:
        if (FORMATS[name])
          refine = (node) => (node.kind === 'string' ? { ...node, constraints: { ...node.constraints, format: FORMATS[name] } } : node);
    }
    if (!refine) continue;
    const apply = refine;
    rules.refine.push(each ? (node) => (node.kind === 'array' ? { ...node, items: apply(node.items) } : node) : apply);
  }
  return rules;
}

/** The property type with its rules applied, in decorator order. */
export function applyRules(node: TypeNode, rules: PropertyRules): TypeNode {
  return rules.refine.reduce((n, refine) => refine(n), node);
}
