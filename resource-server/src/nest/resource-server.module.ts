import {
  Controller,
  Get,
  Header,
  Inject,
  Module,
  NotFoundException,
  type DynamicModule,
  type OnModuleDestroy,
  type Type,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { protectedResourceMetadataPath, type TokenVerifierOptions } from '../options.js';
import { createTokenVerifier, type ProtectedResourceMetadata, type TokenVerifier } from '../token-verifier.js';
import { Public } from './decorators.js';
import { ResourceServerGuard } from './resource-server.guard.js';
import { TOKEN_VERIFIER } from './resource-server.constants.js';

export interface ResourceServerModuleOptions extends TokenVerifierOptions {
  /**
   * Wait for the verifier's ready() before the app starts (default true): a wrong client secret
   * then stops start-up with one clear error instead of turning every request into a 503.
   */
  waitForReady?: boolean;
}

/**
 * `ResourceServerModule.forRoot({ issuer, audience, clientId, clientSecret })` in the root module:
 * a global guard protecting every route (see ResourceServerGuard), the TokenVerifier under
 * TOKEN_VERIFIER, and with `resource` the RFC 9728 metadata route.
 */
@Module({})
export class ResourceServerModule implements OnModuleDestroy {
  constructor(@Inject(TOKEN_VERIFIER) private readonly verifier: TokenVerifier) {}

  static forRoot(options: ResourceServerModuleOptions): DynamicModule {
    const { waitForReady = true, ...verifierOptions } = options;
    const controllers: Type[] = [];
    if (verifierOptions.resource !== undefined) {
      controllers.push(metadataController(protectedResourceMetadataPath(verifierOptions.resource)));
    }
    return {
      module: ResourceServerModule,
      global: true,
      controllers,
      providers: [
        {
          provide: TOKEN_VERIFIER,
          useFactory: async (): Promise<TokenVerifier> => {
            const verifier = createTokenVerifier(verifierOptions);
            if (waitForReady) {
              try {
                await verifier.ready();
              } catch (error) {
                await verifier.close();
                throw error;
              }
            }
            return verifier;
          },
        },
        { provide: APP_GUARD, useClass: ResourceServerGuard },
      ],
      exports: [TOKEN_VERIFIER],
    };
  }

  onModuleDestroy(): Promise<void> {
    return this.verifier.close();
  }
}

/** A controller serving the metadata at the RFC 9728 path of `resource`, open to everyone. */
function metadataController(path: string): Type {
  @Controller()
  class ProtectedResourceMetadataController {
    constructor(@Inject(TOKEN_VERIFIER) private readonly verifier: TokenVerifier) {}

    @Public()
    @Get(path)
    @Header('Cache-Control', 'public, max-age=3600')
    metadata(): ProtectedResourceMetadata {
      if (!this.verifier.resourceMetadata) throw new NotFoundException();
      return this.verifier.resourceMetadata;
    }
  }
  return ProtectedResourceMetadataController;
}
