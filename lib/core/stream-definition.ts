import type { Type } from '@nestjs/common';
import type { FlowControlOptions, StreamOptions } from '../interfaces/longlink-options.interface.js';

/**
 * One discovered `@Stream()` handler.
 */
export interface StreamDefinition {
  /** Full name: `[v<version>/]<controller path>/<name>` (the WS and gRPC name). */
  readonly name: string;
  /** Name within the controller (`@Stream(name)` or the method name). */
  readonly localName: string;
  /** The controller path this definition was made for (a controller may have several). */
  readonly controllerPath: string;
  /**
   * The version the controller or method declares (`@Controller({ version })`, `@Version()`),
   * one per definition; `undefined` when none is declared or it is `VERSION_NEUTRAL`.
   */
  readonly version: string | undefined;
  /** `ClassName.method`, for messages. */
  readonly location: string;
  /** The controller instance. */
  readonly instance: object;
  /** The controller class. */
  readonly controller: Type;
  /** The handler method. */
  readonly callback: (...args: unknown[]) => unknown;
  readonly methodName: string;
  /** Token of the module that declares the controller (for resolving enhancers). */
  readonly moduleKey: string;
  readonly options: StreamOptions;
  /** Client messages (two-way streams): limits after module defaults; `undefined` when the stream takes none. */
  readonly input: { maxQueue: number; maxMessageBytes: number } | undefined;
  /** Flow control after module defaults were applied. */
  readonly flowControl: Required<FlowControlOptions>;
}
