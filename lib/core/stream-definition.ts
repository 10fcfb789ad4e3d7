import type { FlowControlOptions, StreamOptions } from '../interfaces/longlink-options.interface.js';

/**
 * One discovered `@Stream()` handler.
 *
 * @publicApi
 */
export interface StreamDefinition {
  /** Full name: `<controller path>/<name>`. */
  readonly name: string;
  /** `ClassName.method`, for messages. */
  readonly location: string;
  /** The controller instance. */
  readonly instance: object;
  /** The controller class. */
  readonly controller: Function;
  /** The handler method. */
  readonly callback: (...args: unknown[]) => unknown;
  readonly methodName: string;
  /** Token of the module that declares the controller (for resolving enhancers). */
  readonly moduleKey: string;
  readonly options: StreamOptions;
  /** Flow control after module defaults were applied. */
  readonly flowControl: Required<FlowControlOptions>;
}
