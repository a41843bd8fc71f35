import {
  UserAdministrationError,
  type AdministeredUser,
  type UserAdministrationService,
} from '../authz/user-administration.service.js';

export const USERS_USAGE =
  'Usage: npm run users -- list | grant <username> <role> | revoke <username> <role> | disable <username> | enable <username>';

/** A command line that names no known command, or has the wrong number of arguments. */
export class UsageError extends Error {
  constructor() {
    super(USERS_USAGE);
  }
}

const ARITY: Record<string, number> = { list: 0, grant: 2, revoke: 2, disable: 1, enable: 1 };

/** Checks the command line before anything boots, so a typo costs no database connection. */
export function parseUsersCommand(args: string[]): { command: string; operands: string[] } {
  const [command, ...operands] = args;
  if (command === undefined || !Object.hasOwn(ARITY, command) || operands.length !== ARITY[command])
    throw new UsageError();
  return { command, operands };
}

/**
 * Runs one `npm run users` command; returns the lines to print. Throws UserAdministrationError
 * (unknown user, bad role name) with the one line to show.
 */
export async function runUsersCommand(args: string[], admin: UserAdministrationService): Promise<string[]> {
  const { command, operands } = parseUsersCommand(args);
  const actor = { via: 'cli' } as const;
  const [username, role] = operands;
  switch (command) {
    case 'list':
      return (await admin.list()).map(listLine);
    case 'grant':
      return [
        (await admin.grant(username, role, actor))
          ? `Granted ${role} to ${username}; their older access tokens stop working within a second, the next refresh carries it`
          : `${username} already has ${role}`,
      ];
    case 'revoke':
      return [
        (await admin.revoke(username, role, actor))
          ? `Revoked ${role} from ${username}; their older access tokens stop working within a second, the next refresh drops it`
          : `${username} does not have ${role}`,
      ];
    case 'disable':
      return [
        (await admin.disable(username, actor))
          ? `Disabled ${username}; all their sessions are revoked`
          : `${username} was disabled already`,
      ];
    case 'enable':
      return [(await admin.enable(username, actor)) ? `Enabled ${username}` : `${username} is not disabled`];
    default:
      throw new UserAdministrationError(USERS_USAGE);
  }
}

/** `<id>\t<username>\t<roles, comma-separated, or ->\t<active | disabled since …>`. */
function listLine(user: AdministeredUser): string {
  const roles = user.roles.length ? user.roles.join(',') : '-';
  const state = user.disabledAt === null ? 'active' : `disabled since ${new Date(user.disabledAt).toISOString()}`;
  return [user.id, user.username, roles, state].join('\t');
}
