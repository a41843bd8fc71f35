import type { ApiClient } from '../clients/api-client.entity.js';
import { InvalidClientNameError, type ClientsService } from '../clients/clients.service.js';

export const CLIENTS_USAGE = 'Usage: npm run clients -- create <name> | list | delete <client_id>';

/** A command line that names no known command, or has the wrong number of arguments. */
export class ClientsUsageError extends Error {
  constructor() {
    super(CLIENTS_USAGE);
  }
}

/** A refusal with the one line to show (unknown client, bad name). */
export class ClientsCommandError extends Error {}

const ARITY: Record<string, number> = { create: 1, list: 0, delete: 1 };

/** Checks the command line before anything boots, so a typo costs no database connection. */
export function parseClientsCommand(args: string[]): { command: string; operands: string[] } {
  const [command, ...operands] = args;
  if (command === undefined || !Object.hasOwn(ARITY, command) || operands.length !== ARITY[command])
    throw new ClientsUsageError();
  return { command, operands };
}

/**
 * Runs one `npm run clients` command; returns the lines to print. `create` prints the secret,
 * the only time it is ever shown (only its hash is stored), and nothing else: the two lines can
 * be piped into an env file.
 */
export async function runClientsCommand(args: string[], clients: ClientsService): Promise<string[]> {
  const { command, operands } = parseClientsCommand(args);
  const actor = { via: 'cli' } as const;
  switch (command) {
    case 'create': {
      try {
        const { client, secret } = await clients.create(operands[0], actor);
        return [`client_id=${client.id}`, `client_secret=${secret}`];
      } catch (error) {
        if (error instanceof InvalidClientNameError) throw new ClientsCommandError(error.message);
        throw error;
      }
    }
    case 'list':
      return (await clients.list()).map(listLine);
    case 'delete':
      if (!(await clients.delete(operands[0], actor))) throw new ClientsCommandError(`No client "${operands[0]}"`);
      return [`Deleted client ${operands[0]}; its secret no longer authenticates`];
    default:
      throw new ClientsUsageError();
  }
}

/** `<client_id>\t<name>\t<created, ISO 8601>`. */
function listLine(client: ApiClient): string {
  return [client.id, client.name, new Date(client.createdAt).toISOString()].join('\t');
}
