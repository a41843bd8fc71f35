import { InitialSchema1764230400000 } from './1764230400000-initial-schema.js';

/** In order. Listed explicitly so the app, the CLI data source and tests run the same set. */
export const MIGRATIONS = [InitialSchema1764230400000];
