import '../preamble.js';
import 'reflect-metadata';
import { ClientsService } from '../clients/clients.service.js';
import { ClientsCommandError, ClientsUsageError, parseClientsCommand, runClientsCommand } from './clients-command.js';
import { runOperatorCommand } from './operator-command.js';

/**
 * `npm run clients -- create <name> | list | delete <client_id>`: the operator's tool for the
 * resource servers allowed to use introspection and the revocation feed. Safe while servers run.
 */
runOperatorCommand({
  name: 'clients',
  entry: import.meta.filename,
  parse: parseClientsCommand,
  run: (args, app) => runClientsCommand(args, app.get(ClientsService)),
  isRefusal: (error) => error instanceof ClientsUsageError || error instanceof ClientsCommandError,
});
