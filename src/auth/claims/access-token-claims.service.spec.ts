import { afterEach, describe, expect, it } from '@jest/globals';
import { Injectable, Module, Scope, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import type { TestingModule } from '@nestjs/testing';
import { createTestingModule } from '../../../test/utils/testing-module.js';
import { StartupError } from '../../common/startup-error.js';
import { AccessTokenClaimsError } from './access-token-claims.error.js';
import {
  ACCESS_TOKEN_CLAIMS,
  RESERVED_ACCESS_TOKEN_CLAIMS,
  type AccessTokenClaimsContext,
  type AccessTokenClaimsProvider,
} from './access-token-claims.provider.js';
import { AccessTokenClaimsService } from './access-token-claims.service.js';

const CONTEXT: AccessTokenClaimsContext = {
  user: { id: 'user-1', username: 'alice', roles: ['support'] },
  session: { id: 'session-1', authTime: 1_000, expiresAt: 2_000, scopes: ['notes:read'] },
  grant: 'password',
  scopes: ['notes:read'],
};

let moduleRef: TestingModule | undefined;

afterEach(async () => {
  await moduleRef?.close();
  moduleRef = undefined;
});

/** A module of its own registering one provider under ACCESS_TOKEN_CLAIMS, as a team's module does. */
function moduleWith(name: string, provider: Omit<Provider & object, 'provide'>): object {
  @Module({ providers: [{ provide: ACCESS_TOKEN_CLAIMS, ...provider } as Provider] })
  class TeamModule {}
  Object.defineProperty(TeamModule, 'name', { value: name });
  return TeamModule;
}

/** `claims()` returning what `fn` does, from a `useValue` provider in a module named `name`. */
function returning(name: string, fn: AccessTokenClaimsProvider['claims']): object {
  return moduleWith(name, { useValue: { claims: fn } });
}

async function serviceWith(...modules: object[]): Promise<AccessTokenClaimsService> {
  moduleRef = await createTestingModule({
    database: false,
    imports: [DiscoveryModule, ...(modules as never[])],
    providers: [AccessTokenClaimsService],
  });
  return moduleRef.get(AccessTokenClaimsService);
}

/** The refusal, with its message, for asserting on what the server would log. */
async function refusal(service: AccessTokenClaimsService): Promise<AccessTokenClaimsError> {
  const error = await service.collect(CONTEXT).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AccessTokenClaimsError);
  return error as AccessTokenClaimsError;
}

describe('AccessTokenClaimsService: discovery', () => {
  it('is disabled when no module registers a provider', async () => {
    const service = await serviceWith();
    expect(service.enabled).toBe(false);
    await expect(service.collect(CONTEXT)).resolves.toEqual({});
  });

  it('finds one provider per module, whatever the kind (class, value, factory), none of them exported', async () => {
    @Injectable()
    class BillingClaimsProvider implements AccessTokenClaimsProvider {
      claims() {
        return { plan: 'pro' };
      }
    }
    const service = await serviceWith(
      moduleWith('BillingModule', { useClass: BillingClaimsProvider }),
      returning('TenantsModule', () => ({ tenant: 't-1' })),
      moduleWith('FlagsModule', { useFactory: () => ({ claims: () => ({ flags: ['beta'] }) }) }),
    );
    expect(service.enabled).toBe(true);
    expect(service.labels.sort()).toEqual([
      'BillingModule/BillingClaimsProvider',
      'FlagsModule/ACCESS_TOKEN_CLAIMS',
      'TenantsModule/ACCESS_TOKEN_CLAIMS',
    ]);
    await expect(service.collect(CONTEXT)).resolves.toEqual({ plan: 'pro', tenant: 't-1', flags: ['beta'] });
  });

  it('passes each provider the context, and awaits async ones', async () => {
    const seen: AccessTokenClaimsContext[] = [];
    const service = await serviceWith(
      returning('AsyncModule', async (context) => {
        seen.push(context);
        await new Promise((resolve) => setTimeout(resolve, 5));
        return { who: context.user.username, how: context.grant };
      }),
    );
    await expect(service.collect(CONTEXT)).resolves.toEqual({ who: 'alice', how: 'password' });
    expect(seen).toEqual([CONTEXT]);
  });

  it('refuses to start with a request-scoped or transient provider (it could not be called outside a request)', async () => {
    @Injectable({ scope: Scope.REQUEST })
    class PerRequestClaims implements AccessTokenClaimsProvider {
      claims() {
        return {};
      }
    }
    await expect(serviceWith(moduleWith('PerRequestModule', { useClass: PerRequestClaims }))).rejects.toThrow(
      new StartupError(
        'The access-token claims provider PerRequestModule/PerRequestClaims must be a singleton (default scope), not request-scoped or transient',
      ),
    );
    @Injectable({ scope: Scope.TRANSIENT })
    class TransientClaims extends PerRequestClaims {}
    await expect(serviceWith(moduleWith('TransientModule', { useClass: TransientClaims }))).rejects.toThrow(
      StartupError,
    );
  });

  it('refuses to start with a provider that has no claims() method', async () => {
    await expect(serviceWith(moduleWith('OopsModule', { useValue: { claim: () => ({}) } }))).rejects.toThrow(
      new StartupError(
        'The access-token claims provider OopsModule/ACCESS_TOKEN_CLAIMS has no claims(context) method (see AccessTokenClaimsProvider)',
      ),
    );
  });
});

describe('AccessTokenClaimsService.collect: what may go into a token', () => {
  it.each([...RESERVED_ACCESS_TOKEN_CLAIMS].filter((name) => name !== '__proto__'))(
    'refuses the reserved claim "%s", naming the provider',
    async (name) => {
      const service = await serviceWith(returning('GreedyModule', () => ({ fine: 1, [name]: 'mine' })));
      const error = await refusal(service);
      expect(error.message).toBe(`claims provider GreedyModule/ACCESS_TOKEN_CLAIMS set the reserved claim "${name}"`);
      expect(error.provider).toBe('GreedyModule/ACCESS_TOKEN_CLAIMS');
    },
  );

  it('covers the registered claims of the contract, nbf and the JWT-reserved ones that change what a token means', () => {
    for (const name of 'iss sub aud exp iat jti sid roles scope auth_time amr typ nbf client_id acr azp cnf act may_act'.split(
      ' ',
    ))
      expect(RESERVED_ACCESS_TOKEN_CLAIMS.has(name)).toBe(true);
  });

  it('names every reserved claim a provider set', async () => {
    const service = await serviceWith(returning('GreedyModule', () => ({ sub: 'x', roles: ['admin'] })));
    expect((await refusal(service)).message).toBe(
      'claims provider GreedyModule/ACCESS_TOKEN_CLAIMS set the reserved claims "sub", "roles"',
    );
  });

  it('refuses `__proto__`, however the object got it', async () => {
    const service = await serviceWith(
      returning('ProtoModule', () => JSON.parse('{"__proto__": {"roles": ["admin"]}}')),
    );
    expect((await refusal(service)).message).toContain('set the reserved claim "__proto__"');
  });

  it('checks what is signed, not what was first seen: a toJSON() or getter cannot slip a reserved claim in', async () => {
    const viaToJson = await serviceWith(returning('SlyModule', () => ({ toJSON: () => ({ sub: 'admin' }) })));
    expect((await refusal(viaToJson)).message).toContain('set the reserved claim "sub"');
    await moduleRef!.close();
    let reads = 0;
    const viaGetter = await serviceWith(
      returning('SlyModule', () =>
        Object.defineProperty({}, 'label', { enumerable: true, get: () => (reads++ ? { sub: 1 } : 'ok') }),
      ),
    );
    await expect(viaGetter.collect(CONTEXT)).resolves.toEqual({ label: 'ok' });
  });

  it('refuses a claim two providers both set (no silent winner by module order)', async () => {
    const service = await serviceWith(
      returning('FirstModule', () => ({ tenant: 'a', a: 1 })),
      returning('SecondModule', () => ({ tenant: 'b', b: 2 })),
    );
    expect((await refusal(service)).message).toBe(
      'claims provider SecondModule/ACCESS_TOKEN_CLAIMS set the claim "tenant", which FirstModule/ACCESS_TOKEN_CLAIMS sets too',
    );
  });

  it.each([
    ['null', null, 'returned null instead of an object of claims'],
    ['undefined', undefined, 'returned undefined instead of an object of claims'],
    ['a string', 'plan=pro', 'returned a string instead of an object of claims'],
    ['an array', [['plan', 'pro']], 'returned an array instead of an object of claims'],
    ['a Map', new Map([['plan', 'pro']]), 'returned a Map instead of a plain object of claims'],
    ['a toJSON() that is no object', { toJSON: () => 'x' }, 'returned an object whose JSON is a string'],
  ])('refuses %s', async (_what, result, message) => {
    const service = await serviceWith(returning('OddModule', () => result as Record<string, unknown>));
    expect((await refusal(service)).message).toContain(message);
  });

  it('refuses values that are not JSON (a BigInt, a cycle)', async () => {
    const big = await serviceWith(returning('BigModule', () => ({ n: 10n })));
    expect((await refusal(big)).message).toMatch(
      /^claims provider BigModule\/ACCESS_TOKEN_CLAIMS returned claims that are not JSON: TypeError: /,
    );
    await moduleRef!.close();
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const cyclic = await serviceWith(returning('CycleModule', () => cycle));
    expect((await refusal(cyclic)).message).toContain('returned claims that are not JSON');
  });

  it('turns a provider that throws (or rejects) into a refusal whose message is one line', async () => {
    const sync = await serviceWith(
      returning('FlakyModule', () => {
        throw new Error('billing API down:\n  at https://billing.internal/?key=…');
      }),
    );
    expect((await refusal(sync)).message).toBe(
      'claims provider FlakyModule/ACCESS_TOKEN_CLAIMS threw: Error: billing API down: at https://billing.internal/?key=…',
    );
    await moduleRef!.close();
    const rejecting = await serviceWith(returning('FlakyModule', () => Promise.reject(new RangeError('nope'))));
    expect((await refusal(rejecting)).message).toBe(
      'claims provider FlakyModule/ACCESS_TOKEN_CLAIMS threw: RangeError: nope',
    );
  });

  it('keeps JSON values as JSON makes them (a Date as its ISO string, undefined left out)', async () => {
    const service = await serviceWith(
      returning('DatesModule', () => ({ since: new Date(0), gone: undefined, nested: { list: [1, 'two', null] } })),
    );
    await expect(service.collect(CONTEXT)).resolves.toEqual({
      since: '1970-01-01T00:00:00.000Z',
      nested: { list: [1, 'two', null] },
    });
  });
});
