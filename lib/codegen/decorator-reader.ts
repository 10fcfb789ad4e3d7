import type * as TS from 'typescript';
import type { TypeScript } from './typescript.loader.js';

/** A value the generator cannot compute from the source (a function call, a runtime variable). */
export const UNKNOWN_VALUE = Symbol('unknown value');
/** `VERSION_NEUTRAL` of `@nestjs/common`, when it appears in a version. */
export const NEUTRAL_VERSION = Symbol('VERSION_NEUTRAL');

/** A decorator call: the decorator's declared name (aliases resolved), its file, and its arguments. */
export interface DecoratorCall {
  name: string;
  /** File that declares the decorator function (tells `@Stream` of this package from another). */
  file: string;
  args: readonly TS.Expression[];
}

/**
 * Reads decorators and the constant values of their arguments with the compiler's checker:
 * literals, arrays, object literals, `as const`, and identifiers of `const` declarations or
 * enum members (followed through imports).
 */
export class DecoratorReader {
  constructor(
    private readonly ts: TypeScript,
    private readonly checker: TS.TypeChecker,
  ) {}

  /** The decorator calls on a class, method, property or parameter (`@X` without a call has no arguments). */
  decorators(node: TS.Node): DecoratorCall[] {
    const { ts } = this;
    if (!ts.canHaveDecorators(node)) return [];
    const calls: DecoratorCall[] = [];
    for (const decorator of ts.getDecorators(node) ?? []) {
      const expr = decorator.expression;
      const callee = ts.isCallExpression(expr) ? expr.expression : expr;
      const declared = this.declaration(callee);
      const name = declared?.name ?? (ts.isIdentifier(callee) ? callee.text : ts.isPropertyAccessExpression(callee) ? callee.name.text : '');
      calls.push({ name, file: declared?.file ?? '', args: ts.isCallExpression(expr) ? expr.arguments : [] });
    }
    return calls;
  }

  /** The first decorator of that name, if any. */
  find(node: TS.Node, name: string): DecoratorCall | undefined {
    return this.decorators(node).find((d) => d.name === name);
  }

  /** The constant value of an expression, or {@link UNKNOWN_VALUE}. */
  evaluate(expr: TS.Expression, depth = 0): unknown {
    const { ts } = this;
    if (depth > 20) return UNKNOWN_VALUE;
    if (ts.isStringLiteral(expr) || ts.isNoSubstitutionTemplateLiteral(expr)) return expr.text;
    if (ts.isNumericLiteral(expr)) return Number(expr.text);
    if (expr.kind === ts.SyntaxKind.TrueKeyword) return true;
    if (expr.kind === ts.SyntaxKind.FalseKeyword) return false;
    if (ts.isRegularExpressionLiteral(expr)) return new RegExp(expr.text.slice(1, expr.text.lastIndexOf('/')));
    if (ts.isParenthesizedExpression(expr) || ts.isAsExpression(expr) || ts.isSatisfiesExpression(expr) || ts.isNonNullExpression(expr)) {
      return this.evaluate(expr.expression, depth + 1);
    }
    if (ts.isPrefixUnaryExpression(expr) && expr.operator === ts.SyntaxKind.MinusToken) {
      const value = this.evaluate(expr.operand, depth + 1);
      return typeof value === 'number' ? -value : UNKNOWN_VALUE;
    }
    if (ts.isArrayLiteralExpression(expr)) return expr.elements.map((e) => this.evaluate(e, depth + 1));
    if (ts.isObjectLiteralExpression(expr)) {
      const out: Record<string, unknown> = {};
      for (const prop of expr.properties) {
        if (ts.isPropertyAssignment(prop) && (ts.isIdentifier(prop.name) || ts.isStringLiteral(prop.name))) {
          out[prop.name.text] = this.evaluate(prop.initializer, depth + 1);
        } else if (ts.isShorthandPropertyAssignment(prop)) {
          out[prop.name.text] = this.evaluate(prop.name, depth + 1);
        } else {
          return UNKNOWN_VALUE; // spread or computed key: not a constant the generator can see
        }
      }
      return out;
    }
    if (ts.isIdentifier(expr) || ts.isPropertyAccessExpression(expr)) {
      const declared = this.declaration(expr);
      if (declared?.name === 'VERSION_NEUTRAL') return NEUTRAL_VERSION;
      const type = this.checker.getTypeAtLocation(expr);
      if (type.isStringLiteral() || type.isNumberLiteral()) return type.value;
      const node = declared?.node;
      if (node && ts.isVariableDeclaration(node) && node.initializer) return this.evaluate(node.initializer, depth + 1);
      if (node && ts.isEnumMember(node)) {
        const value = this.checker.getConstantValue(node);
        return value ?? UNKNOWN_VALUE;
      }
    }
    return UNKNOWN_VALUE;
  }

  /** The declaration an identifier (or `a.b`) refers to, imports followed. */
  declaration(expr: TS.Expression): { name: string; file: string; node: TS.Declaration | undefined } | undefined {
    let symbol = this.checker.getSymbolAtLocation(expr);
    if (!symbol) return undefined;
    if (symbol.flags & this.ts.SymbolFlags.Alias) symbol = this.checker.getAliasedSymbol(symbol);
    const node = symbol.valueDeclaration ?? symbol.declarations?.[0];
    return { name: symbol.name, file: node?.getSourceFile().fileName ?? '', node };
  }
}
