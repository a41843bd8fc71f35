import { DataSource } from 'typeorm';
import { loadConfig } from '../config/env.validation.js';
import { buildDataSourceOptions } from './data-source-options.js';

/** For the TypeORM CLI (`npx typeorm migration:show -d dist/database/data-source.js`). */
export default new DataSource(buildDataSourceOptions(loadConfig().database));
