import type { TypeNode } from './type-model.js';

/** A JSON Schema (the subset the generator writes: draft-07, which AsyncAPI 3.0 schemas accept). */
export type JsonSchema = Record<string, unknown>;

/**
 * A type node as a JSON Schema; named types are `$ref`s to `${refBase}<Name>`. Optional
 * properties are left out of `required`; `unknown` is the empty schema (any JSON value).
 */
export function jsonSchema(node: TypeNode, refBase: string): JsonSchema {
  const described = (schema: JsonSchema): JsonSchema => (node.description ? { ...schema, description: node.description } : schema);
  switch (node.kind) {
    case 'string':
    case 'number':
    case 'integer':
    case 'boolean':
    case 'null':
      return described({ type: node.kind, ...node.constraints });
    case 'unknown':
      return described({});
    case 'literal':
      return described({ const: node.value });
    case 'enum':
      return described({ enum: node.values });
    case 'array':
      return described({ type: 'array', items: jsonSchema(node.items, refBase), ...node.constraints });
    case 'record':
      return described({ type: 'object', additionalProperties: jsonSchema(node.values, refBase) });
    case 'union':
      return described({ anyOf: node.members.map((m) => jsonSchema(m, refBase)) });
    case 'ref':
      return described({ $ref: `${refBase}${node.name}` });
    case 'object': {
      const properties: Record<string, JsonSchema> = {};
      for (const p of node.properties) {
        const schema = jsonSchema(p.type, refBase);
        properties[p.name] = p.description && !schema.$ref ? { ...schema, description: p.description } : schema;
      }
      const required = node.properties.filter((p) => !p.optional).map((p) => p.name);
      return described({ type: 'object', properties, ...(required.length ? { required } : {}) });
    }
  }
}
