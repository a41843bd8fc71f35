import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** One entry of the feed: a revoked session (`sid`), or a user's cut-off (`notBefore`). */
export class RevocationItemDto {
  @ApiProperty({ description: 'The cursor: ask `since` this to get what comes after', example: '42' })
  id: string;

  @ApiPropertyOptional({ description: 'The revoked session: refuse every token with this `sid`', format: 'uuid' })
  sid?: string;

  @ApiProperty({ description: 'The user (`sub` of their tokens)', format: 'uuid' })
  sub: string;

  @ApiPropertyOptional({
    description: 'A cut-off (epoch s): refuse every token of `sub` with an earlier `iat`',
    example: 1764925201,
  })
  notBefore?: number;

  @ApiProperty({
    description: 'Epoch s: no token this entry affects expires later; after it the entry can be forgotten',
    example: 1764928800,
  })
  until: number;
}

export class RevocationPageDto {
  @ApiProperty({ type: [RevocationItemDto], description: 'Oldest first; at most 500 (ask again from `next`)' })
  items: RevocationItemDto[];

  @ApiProperty({
    description: 'The cursor for the next call (`since`): the last item, or with none, the newest that exists',
    example: '42',
  })
  next: string;
}
