import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { ApiClient } from './api-client.entity.js';

/** Every statement on `clients`. */
@Injectable()
export class ApiClientRepository {
  constructor(@InjectRepository(ApiClient) private readonly clients: Repository<ApiClient>) {}

  async insert(client: ApiClient): Promise<void> {
    await this.clients.insert(client);
  }

  findById(id: string): Promise<ApiClient | null> {
    return this.clients.findOneBy({ id });
  }

  /** Oldest first, then by id, so the order is stable. */
  list(): Promise<ApiClient[]> {
    return this.clients.find({ order: { createdAt: 'ASC', id: 'ASC' } });
  }

  /** False when there was no such client. */
  async delete(id: string): Promise<boolean> {
    const result = await this.clients.delete({ id });
    return (result.affected ?? 0) > 0;
  }
}
