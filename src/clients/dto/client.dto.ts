import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length, Matches } from 'class-validator';
import { NO_CONTROL_CHARACTERS } from '../../auth/dto/credentials.dto.js';
import { MAX_CLIENT_NAME_LENGTH } from '../clients.service.js';

export class CreateClientDto {
  @ApiProperty({ example: 'orders api', minLength: 1, maxLength: MAX_CLIENT_NAME_LENGTH })
  @IsString()
  @Length(1, MAX_CLIENT_NAME_LENGTH)
  @Matches(NO_CONTROL_CHARACTERS, { message: 'name must not contain control characters' })
  @Matches(/\S/, { message: 'name must not be blank' })
  name: string;
}

export class ClientDto {
  @ApiProperty({ example: 'Vb3mXq1nS0uJ9cW2kR7tZg', description: 'The client_id (not secret)' })
  client_id: string;

  @ApiProperty({ example: 'orders api' })
  name: string;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;
}

export class CreatedClientDto extends ClientDto {
  @ApiProperty({
    example: 'tq6Hw0S3c1Gm3q7wQy2aXWk8o1u5Zl9eJd4VfR2bNcA',
    description: 'Shown this once: only its hash is stored. Use it with client_secret_basic.',
  })
  client_secret: string;
}
