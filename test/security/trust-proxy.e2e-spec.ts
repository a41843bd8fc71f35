import { afterEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createTestApp, type TestApp } from '../utils/create-test-app.js';
import { DEFAULT_PASSWORD, register, uniqueUsername } from '../utils/http.js';

/** The IP a session records for a login sent with this X-Forwarded-For. */
async function recordedIp(t: TestApp, forwardedFor: string): Promise<string> {
  const { username } = await register(t.server, uniqueUsername('xff'));
  const login = await request(t.server)
    .post('/auth/login')
    .set('X-Forwarded-For', forwardedFor)
    .send({ username, password: DEFAULT_PASSWORD })
    .expect(200);
  const sessions = await request(t.server)
    .get('/auth/sessions')
    .set('Authorization', `Bearer ${login.body.access_token as string}`)
    .expect(200);
  return sessions.body[0].ip as string;
}

describe('client IPs behind proxies (e2e)', () => {
  let t: TestApp | undefined;

  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('ignores X-Forwarded-For by default: a client cannot pick its IP (or dodge the per-IP throttle)', async () => {
    t = await createTestApp();
    expect(await recordedIp(t, '203.0.113.9')).toBe('127.0.0.1');
  });

  it('with TRUST_PROXY=1 takes the address our one proxy appended, not what the client claimed before it', async () => {
    t = await createTestApp({ TRUST_PROXY: '1' });
    // The client sent "203.0.113.9"; the proxy (127.0.0.1 here) appended the real client address.
    expect(await recordedIp(t, '203.0.113.9, 198.51.100.7')).toBe('198.51.100.7');
  });

  it('records no IP when the trusted proxy forwards text that is no IP address, in sessions and audit events alike', async () => {
    t = await createTestApp({ TRUST_PROXY: '1' });
    expect(await recordedIp(t, '203.0.113.9, not-an-ip')).toBeNull();

    const { username } = await register(t.server, uniqueUsername('xff'));
    const login = await request(t.server)
      .post('/auth/login')
      .set('X-Forwarded-For', '<script>')
      .send({ username, password: DEFAULT_PASSWORD })
      .expect(200);
    const audit = await request(t.server)
      .get('/auth/audit')
      .set('Authorization', `Bearer ${login.body.access_token as string}`)
      .expect(200);
    const events = (audit.body.items ?? audit.body) as { ip: string | null }[];
    expect(events.length).toBeGreaterThan(0);
    for (const event of events) expect(event.ip).toBeNull();
  });
});
