import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import type { ClientInfo } from '../common/http/client-info.js';
import { ApiClient } from './api-client.entity.js';
import { ApiClientRepository } from './api-client.repository.js';
import { clientSecretMatches, hashClientSecret, newClientId, newClientSecret } from './client-secret.js';

/** Who created or deleted a client, for the audit row: the CLI, or an admin through the API. */
export type ClientActor = { via: 'cli' } | { via: 'api'; userId: string; client: ClientInfo };

/** A client just created, with the only copy of its secret. */
export interface CreatedClient {
  client: ApiClient;
  secret: string;
}

/** The id column's width: a longer id is no client's, and is not looked up. */
const MAX_CLIENT_ID_LENGTH = 64;

/** Longest client name; longer ones are refused (the CLI and the API say so). */
export const MAX_CLIENT_NAME_LENGTH = 100;

/** Resource-server clients: created with a secret shown once, listed, deleted, authenticated. */
@Injectable()
export class ClientsService {
  constructor(
    private readonly clients: ApiClientRepository,
    private readonly audit: AuditService,
  ) {}

  /** A new client; the secret is returned here and nowhere else (only its hash is stored). */
  async create(name: string, actor: ClientActor, now = Date.now()): Promise<CreatedClient> {
    const secret = newClientSecret();
    const client = Object.assign(new ApiClient(), {
      id: newClientId(),
      name: validName(name),
      secretHash: hashClientSecret(secret),
      createdAt: now,
    });
    await this.clients.insert(client);
    await this.audit.record('client_created', auditInput(actor, client), now);
    return { client, secret };
  }

  list(): Promise<ApiClient[]> {
    return this.clients.list();
  }

  /** False when there was no such client. Its secret stops working at once (nothing caches it). */
  async delete(clientId: string, actor: ClientActor, now = Date.now()): Promise<boolean> {
    const client = clientId.length > MAX_CLIENT_ID_LENGTH ? null : await this.clients.findById(clientId);
    if (!client || !(await this.clients.delete(clientId))) return false;
    await this.audit.record('client_deleted', auditInput(actor, client), now);
    return true;
  }

  /**
   * The client whose id and secret these are, or null. An unknown id costs the same hash and
   * comparison as a wrong secret. Not cached, so a deleted client is refused on its next call.
   */
  async authenticate(clientId: string, secret: string): Promise<ApiClient | null> {
    const client = clientId.length > MAX_CLIENT_ID_LENGTH ? null : await this.clients.findById(clientId);
    return clientSecretMatches(secret, client?.secretHash) ? client : null;
  }
}

/** Thrown for a name the CLI or the API must refuse (the API's DTO refuses it first). */
export class InvalidClientNameError extends Error {
  override readonly name = 'InvalidClientNameError';
}

function validName(name: string): string {
  const trimmed = name.trim();
  if (!trimmed || trimmed.length > MAX_CLIENT_NAME_LENGTH || /\p{Cc}/u.test(trimmed)) {
    throw new InvalidClientNameError(
      `A client name must be 1 to ${MAX_CLIENT_NAME_LENGTH} characters without control characters`,
    );
  }
  return trimmed;
}

function auditInput(actor: ClientActor, client: ApiClient) {
  const detail = { clientId: client.id, name: client.name, via: actor.via };
  return actor.via === 'api'
    ? { userId: actor.userId, ip: actor.client.ip, userAgent: actor.client.userAgent, detail }
    : { detail };
}
