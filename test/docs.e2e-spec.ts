import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createTestApp, type TestApp } from './utils/create-test-app.js';

interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, { security?: Record<string, string[]>[]; requestBody?: unknown; responses: Record<string, unknown> }>>;
  components: {
    schemas: Record<string, { properties?: Record<string, Record<string, unknown>>; required?: string[] }>;
    securitySchemes: Record<string, Record<string, unknown>>;
  };
}

const ref = (schema: string) => ({ $ref: `#/components/schemas/${schema}` });
const jsonBody = (schema: string) => expect.objectContaining({ content: { 'application/json': { schema: ref(schema) } } });

describe('Swagger docs (e2e)', () => {
  let t: TestApp;
  let doc: OpenApiDocument;

  beforeAll(async () => {
    t = await createTestApp();
    doc = (await request(t.server).get('/docs-json').expect(200)).body as OpenApiDocument;
  });
  afterAll(async () => {
    await t.close();
  });

  it('serves the Swagger UI as HTML at /docs without a token', async () => {
    const response = await request(t.server).get('/docs').expect(200);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(response.text).toContain('<html');
    expect(response.text).toContain('Swagger UI');
  });

  it('serves an OpenAPI 3 JSON document at /docs-json without a token', async () => {
    const response = await request(t.server).get('/docs-json').expect(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(doc.openapi).toMatch(/^3\./);
  });

  it('documents the five /auth routes with their methods', () => {
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/auth/register', '/auth/login', '/auth/me', '/auth/refresh', '/auth/logout']),
    );
    expect(Object.keys(doc.paths['/auth/register'])).toEqual(['post']);
    expect(Object.keys(doc.paths['/auth/login'])).toEqual(['post']);
    expect(Object.keys(doc.paths['/auth/me'])).toEqual(['get']);
    expect(Object.keys(doc.paths['/auth/refresh'])).toEqual(['post']);
    expect(Object.keys(doc.paths['/auth/logout'])).toEqual(['post']);
  });

  it('ties request and response bodies to the DTO schemas', () => {
    expect(doc.paths['/auth/register'].post.requestBody).toEqual(jsonBody('RegisterDto'));
    expect(doc.paths['/auth/login'].post.requestBody).toEqual(jsonBody('LoginDto'));
    expect(doc.paths['/auth/login'].post.responses['200']).toEqual(jsonBody('TokenResponseDto'));
    expect(doc.paths['/auth/refresh'].post.responses['200']).toEqual(jsonBody('TokenResponseDto'));
    expect(doc.paths['/auth/register'].post.responses).toHaveProperty('201');
    expect(doc.paths['/auth/register'].post.responses).toHaveProperty('409');
    expect(doc.paths['/auth/login'].post.responses).toHaveProperty('401');
    expect(doc.paths['/auth/logout'].post.responses).toHaveProperty('204');
  });

  it('describes RegisterDto, LoginDto and TokenResponseDto with their fields and limits', () => {
    const { RegisterDto, LoginDto, TokenResponseDto } = doc.components.schemas;
    expect(RegisterDto.required).toEqual(expect.arrayContaining(['username', 'password']));
    expect(RegisterDto.properties?.username).toMatchObject({ type: 'string', minLength: 3, maxLength: 64 });
    expect(RegisterDto.properties?.password).toMatchObject({ type: 'string', minLength: 8, maxLength: 128 });

    expect(LoginDto.required).toEqual(expect.arrayContaining(['username', 'password']));
    expect(Object.keys(LoginDto.properties ?? {}).sort()).toEqual(['password', 'username']);

    expect(TokenResponseDto.required).toEqual(expect.arrayContaining(['access_token', 'token_type', 'expires_in']));
    expect(TokenResponseDto.properties?.access_token).toMatchObject({ type: 'string' });
    expect(TokenResponseDto.properties?.token_type).toMatchObject({ enum: ['Bearer'] });
    expect(TokenResponseDto.properties?.expires_in).toMatchObject({ type: 'number' });
    // The refresh token travels only in the cookie.
    expect(Object.keys(TokenResponseDto.properties ?? {})).not.toContain('refresh_token');
  });

  it('declares bearer and refresh-cookie security schemes and uses them on the right routes', () => {
    const schemes = Object.values(doc.components.securitySchemes);
    expect(schemes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }),
        expect.objectContaining({ type: 'apiKey', in: 'cookie', name: 'refresh_token' }),
      ]),
    );
    const nameOf = (predicate: (s: Record<string, unknown>) => boolean) =>
      Object.entries(doc.components.securitySchemes).find(([, s]) => predicate(s))![0];
    const bearer = nameOf((s) => s.scheme === 'bearer');
    const cookie = nameOf((s) => s.in === 'cookie');

    expect(doc.paths['/auth/me'].get.security).toEqual([{ [bearer]: [] }]);
    expect(doc.paths['/auth/refresh'].post.security).toEqual([{ [cookie]: [] }]);
    expect(doc.paths['/auth/logout'].post.security).toEqual([{ [cookie]: [] }]);
    expect(doc.paths['/auth/register'].post.security).toBeUndefined();
    expect(doc.paths['/auth/login'].post.security).toBeUndefined();
  });
});
