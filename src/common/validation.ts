import { ValidationPipe, type ValidationPipeOptions } from '@nestjs/common';

/** One set of validation rules, used by the global pipe and by guards that validate before passport runs. */
export const VALIDATION_OPTIONS: ValidationPipeOptions = {
  whitelist: true,
  forbidNonWhitelisted: true,
  transform: true,
  // Without a body, validate an empty object so the client gets field messages, not a 500.
  forbidUnknownValues: true,
};

export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe(VALIDATION_OPTIONS);
}
