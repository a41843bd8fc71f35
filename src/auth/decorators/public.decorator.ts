import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC_KEY = 'isPublic';

/** Opens a route that the global JWT guard would otherwise protect. */
export const Public = () => SetMetadata(IS_PUBLIC_KEY, true);
