/** Injection token of the validated module options ({@link ResolvedLonglinkOptions}). */
export const LONGLINK_RESOLVED_OPTIONS = Symbol('longlink:resolved-options');
