import {
  BadRequestException,
  ValidationPipe,
  type ArgumentMetadata,
  type ValidationError,
  type ValidationPipeOptions,
} from '@nestjs/common';
import { getMetadataStorage } from 'class-validator';
import { MAX_ERROR_MESSAGES } from './http/error-body.js';

/**
 * The kinds of rule, in the order a field is checked: its one message is that of the first kind
 * that fails. "required" is not a decorator: a field that is missing (undefined) and not
 * `@IsOptional()` fails every rule it has, and the message that helps is that it is missing.
 */
const RULE_KINDS = ['required', 'type', 'format', 'range'] as const;
type RuleKind = (typeof RULE_KINDS)[number];

/** class-validator constraint names by kind; any other constraint counts as a format rule. */
const KIND_OF_CONSTRAINT: Record<string, RuleKind> = {
  isDefined: 'required',
  isString: 'type',
  isInt: 'type',
  isNumber: 'type',
  isBoolean: 'type',
  isArray: 'type',
  isObject: 'type',
  isDate: 'type',
  isEnum: 'type',
  nestedValidation: 'type',
  isLength: 'range',
  minLength: 'range',
  maxLength: 'range',
  min: 'range',
  max: 'range',
  arrayMinSize: 'range',
  arrayMaxSize: 'range',
};

/** One message per field: that of the first failing rule in the order of RULE_KINDS. */
function firstFailure(error: ValidationError): string | undefined {
  const constraints = error.constraints;
  if (!constraints) return undefined;
  if (error.value === undefined && !('whitelistValidation' in constraints)) return `${error.property} is required`;
  let best: { rank: number; message: string } | undefined;
  for (const [name, message] of Object.entries(constraints)) {
    const rank = RULE_KINDS.indexOf(KIND_OF_CONSTRAINT[name] ?? 'format');
    if (!best || rank < best.rank) best = { rank, message };
  }
  return best?.message;
}

/** Nested errors are prefixed with their parent's path, as Nest's own pipe does. */
function collectMessages(errors: ValidationError[], parentPath: string, out: string[]): void {
  for (const error of errors) {
    if (out.length >= MAX_ERROR_MESSAGES) return;
    const message = firstFailure(error);
    if (message !== undefined) out.push(parentPath ? `${parentPath}.${message}` : message);
    if (error.children?.length)
      collectMessages(error.children, parentPath ? `${parentPath}.${error.property}` : error.property, out);
  }
}

/** The 400 for failed validation: one message per field, at most MAX_ERROR_MESSAGES of them. */
export function validationException(errors: ValidationError[]): BadRequestException {
  const messages: string[] = [];
  collectMessages(errors, '', messages);
  return new BadRequestException(messages);
}

/** One set of validation rules, used by the global pipe and by guards that validate before passport runs. */
export const VALIDATION_OPTIONS: ValidationPipeOptions = {
  whitelist: true,
  forbidNonWhitelisted: true,
  transform: true,
  // Without a body, validate an empty object so the client gets field messages, not a 500.
  forbidUnknownValues: true,
  exceptionFactory: validationException,
};

/** What the pipe checks before Nest's own: which keys a DTO has, and which of them are primitives. */
interface DtoShape {
  /** The properties with a validation decorator: class-validator's whitelist. */
  keys: ReadonlySet<string>;
  /** Those declared string, number or boolean. */
  primitives: readonly string[];
}

const PRIMITIVE_TYPES: unknown[] = [String, Number, Boolean];
const shapes = new WeakMap<object, DtoShape>();

function shapeOf(metatype: new () => unknown): DtoShape {
  let shape = shapes.get(metatype);
  if (!shape) {
    const metadata = getMetadataStorage().getTargetValidationMetadatas(metatype, '', false, false);
    const keys = new Set(metadata.map((m) => m.propertyName));
    const primitives = [...keys].filter((key) =>
      PRIMITIVE_TYPES.includes(Reflect.getMetadata('design:type', metatype.prototype as object, key)),
    );
    shape = { keys, primitives };
    shapes.set(metatype, shape);
  }
  return shape;
}

/** An unknown key can be as long as the body; the message names its start. */
function keyForMessage(key: string): string {
  return key.length > 40 ? `${key.slice(0, 40)}…` : key;
}

/**
 * The ValidationPipe, with what it does not do cheaply. Its whitelist check visits every key of
 * the body, and class-transformer copies them all first, so a body of 9,000 unknown keys cost
 * 100x a small one and answered 9,000 messages: the keys are checked here first, against the
 * DTO's own list, stopping at the first unknown one. Nest then walks the whole value three times
 * (stripProtoKeys, closeArrayGaps, class-transformer), so 4 kB of `[{},{},…]` where a string
 * belongs cost 4x a small body: an object or array where the DTO declares a primitive fails its
 * type rule whatever it holds, so it is validated as an empty array, with the same message. A
 * body that is not an object (a JSON string or array) is refused here too, with one message
 * instead of one per missing field.
 */
export class AppValidationPipe extends ValidationPipe {
  constructor() {
    super(VALIDATION_OPTIONS);
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const { metatype, type } = metadata;
    if (metatype && (type === 'body' || type === 'query') && this.toValidate(metadata) && !isEmpty(value)) {
      if (typeof value !== 'object' || Array.isArray(value)) {
        throw new BadRequestException(['The request body must be a JSON object']);
      }
      const shape = shapeOf(metatype as new () => unknown);
      for (const key in value) {
        if (Object.hasOwn(value, key) && !shape.keys.has(key)) {
          throw new BadRequestException([`property ${keyForMessage(key)} should not exist`]);
        }
      }
      let checked = value as Record<string, unknown>;
      for (const key of shape.primitives) {
        if (typeof checked[key] === 'object' && checked[key] !== null) {
          if (checked === value) checked = { ...checked };
          checked[key] = [];
        }
      }
      return super.transform(checked, metadata);
    }
    return super.transform(value, metadata);
  }
}

function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

export function createValidationPipe(): ValidationPipe {
  return new AppValidationPipe();
}
