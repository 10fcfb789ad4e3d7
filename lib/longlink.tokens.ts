/*
 * Every injection token of the module, in one place.
 */

/**
 * Injection token of the options exactly as given to `forRoot()` / `forRootAsync()`. The string
 * Nest's `ConfigurableModuleBuilder` would derive from the module name `Longlink`, so
 * `@Inject('LONGLINK_MODULE_OPTIONS')` keeps working.
 */
export const LONGLINK_MODULE_OPTIONS = 'LONGLINK_MODULE_OPTIONS';
/** Injection token of the validated module options ({@link ResolvedLonglinkOptions}). */
export const LONGLINK_RESOLVED_OPTIONS = Symbol('longlink:resolved-options');
/** Injection token of the hub's adapter ({@link HubAdapter}: in memory, or on Redis). */
export const HUB_ADAPTER = Symbol('longlink:hub-adapter');
/** Injection token of the store of acked client message ids ({@link InputDedupStore}: in memory, or on Redis with the hub). */
export const INPUT_DEDUP_STORE = Symbol('longlink:input-dedup-store');
/** Injection token of the {@link InputForwarder} that carries channel-addressed client messages between instances (`null` on one instance). */
export const INPUT_FORWARDER = Symbol('longlink:input-forwarder');
