export { ResourceServerModule, type ResourceServerModuleOptions } from './resource-server.module.js';
export { ResourceServerGuard } from './resource-server.guard.js';
export { Principal, Public, Roles, Scopes } from './decorators.js';
export { TOKEN_VERIFIER } from './resource-server.constants.js';
