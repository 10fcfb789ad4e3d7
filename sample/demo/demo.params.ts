import { Transform } from 'class-transformer';
import { IsBoolean, IsInt, IsOptional, IsString, Length, Matches, Max, Min, ValidateIf } from 'class-validator';

/**
 * Accepts integers and integer strings (query-string values), nothing else: "1.5", "1e3",
 * "" and booleans stay as they are and then fail `@IsInt()`.
 */
function IntParam(): PropertyDecorator {
  return Transform(({ value }: { value: unknown }) => (typeof value === 'string' && /^-?\d{1,15}$/.test(value) ? Number(value) : value));
}

/** Params of `demo/counter`. */
export class CounterParams {
  @IntParam()
  @IsInt()
  @Min(-1_000_000_000)
  @Max(1_000_000_000)
  from: number = 0;

  @IntParam()
  @IsInt()
  @Min(1)
  @Max(10_000)
  count: number = 10;

  @IntParam()
  @IsInt()
  @Min(0)
  @Max(60_000)
  intervalMs: number = 100;
}

/** Params of `demo/fail`. */
export class FailParams {
  @IntParam()
  @IsInt()
  @Min(0)
  @Max(10_000)
  after: number = 2;
}

/** Params of `demo/chat`. */
export class ChatParams {
  @IsString()
  @Matches(/^[a-z0-9-]{1,64}$/, { message: 'room must be 1 to 64 of a-z, 0-9 and -' })
  room!: string;

  /** On a first subscribe (no last event id): also replay the room's last `history` messages. */
  @IntParam()
  @IsInt()
  @Min(0)
  @Max(100)
  history: number = 0;

  /** Set: the subscription is shown in the room's presence under this name while it lasts. */
  @IsOptional()
  @IsString()
  @Length(1, 64)
  name?: string;
}

/** Params of `demo/presence`. */
export class PresenceParams {
  @IsString()
  @Matches(/^[a-z0-9-]{1,64}$/, { message: 'room must be 1 to 64 of a-z, 0-9 and -' })
  room!: string;
}

/** Body of `POST /demo/chat/:room/typing`. */
export class TypingMessage {
  @IsString()
  @Length(1, 64)
  from!: string;

  @IsBoolean()
  typing!: boolean;
}

/** Body of `POST /demo/chat/:room`. */
export class ChatMessage {
  @IsString()
  @Length(1, 64)
  from!: string;

  @IsString()
  @Length(1, 1000)
  text!: string;
}

/** Body of `POST /demo/complete` (a JSON object). */
export class CompleteParams {
  @IsString()
  @Length(1, 2000)
  prompt!: string;

  /** Delay between tokens. */
  @IntParam()
  @IsInt()
  @Min(0)
  @Max(1000)
  tokenDelayMs: number = 30;
}

/**
 * A client message of `demo/chat` (two-way): a chat line (`text`), or the sender's typing state
 * (`typing`), or both.
 */
export class ChatInput {
  @ValidateIf((o: ChatInput) => o.typing === undefined || o.text !== undefined)
  @IsString()
  @Length(1, 1000)
  text?: string;

  @IsOptional()
  @IsBoolean()
  typing?: boolean;
}

/** A client message of `demo/echo`. */
export class EchoInput {
  @IsString()
  @Length(1, 1000)
  text!: string;
}
