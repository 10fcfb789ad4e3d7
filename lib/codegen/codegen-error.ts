/**
 * An error of `nestjs-longlink generate` that the user can fix (bad option, unsupported type,
 * missing compiler): the CLI prints its message without a stack trace and exits with 1.
 *
 * @publicApi
 */
export class CodegenError extends Error {
  override readonly name = 'CodegenError';
}
