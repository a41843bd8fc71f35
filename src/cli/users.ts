import '../preamble.js';
import 'reflect-metadata';
import { UserAdministrationError, UserAdministrationService } from '../authz/user-administration.service.js';
import { runOperatorCommand } from './operator-command.js';
import { parseUsersCommand, runUsersCommand, UsageError } from './users-command.js';

/**
 * `npm run users -- list | grant <username> <role> | revoke <username> <role> | disable <username>
 * | enable <username>`: the operator's tool for roles and disabled accounts (and how the first
 * admin is made). Safe while servers run: every change is one conditional statement, audited.
 */
runOperatorCommand({
  name: 'users',
  entry: import.meta.filename,
  parse: parseUsersCommand,
  run: (args, app) => runUsersCommand(args, app.get(UserAdministrationService)),
  isRefusal: (error) => error instanceof UsageError || error instanceof UserAdministrationError,
});
