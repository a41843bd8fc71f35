export { createTokenVerifier, type ProtectedResourceMetadata, type TokenVerifier } from './token-verifier.js';
export {
  PROTECTED_RESOURCE_WELL_KNOWN,
  protectedResourceMetadataPath,
  protectedResourceMetadataUrl,
  SUPPORTED_ALGORITHMS,
  type TokenVerifierOptions,
} from './options.js';
export { TokenError, type TokenErrorCode, type TokenErrorReason } from './token-error.js';
export type { AuthRequirements, Principal } from './principal.js';
export { ClientAuthenticationError } from './auth-server-client.js';
export {
  bearerAuth,
  errorHeaders,
  fastifyBearerAuth,
  protectedResourceHandler,
  sendTokenError,
  type AuthenticatedRequest,
  type FastifyLikeReply,
  type FastifyLikeRequest,
} from './http-adapters.js';
