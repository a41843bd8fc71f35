import type { AppConfig } from './app-config.js';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Settings that are valid but unsafe in production: the service starts (a staging box may want
 * them), and says so at start-up, one line each.
 */
export function configWarnings(config: AppConfig): string[] {
  if (config.env !== 'production') return [];
  const warnings: string[] = [];
  const issuer = new URL(config.auth.issuer);
  const local = LOOPBACK_HOSTS.has(issuer.hostname) || /^127(\.\d{1,3}){3}$/.test(issuer.hostname);
  const plainHttp = issuer.protocol === 'http:';
  if (local || plainHttp) {
    const what = local && plainHttp ? 'a local, plain-http' : local ? 'a local' : 'a plain-http';
    warnings.push(
      `JWT_ISSUER is ${config.auth.issuer} in production: tokens and the OAuth metadata name ${what} address that clients and resource servers elsewhere cannot use safely; set JWT_ISSUER to the public https URL clients use`,
    );
  }
  if (!config.auth.keysEncryptionKey) {
    warnings.push(
      'KEYS_ENCRYPTION_KEY is not set in production: private signing keys are stored in the database in the clear, so a database backup can mint tokens; set it to 32+ random characters (`openssl rand -base64 32`)',
    );
  }
  if (!config.http.cookieSecure) {
    warnings.push(
      'COOKIE_SECURE=false in production: the refresh cookie is sent over plain http too; remove it once TLS is in front of the service',
    );
  }
  return warnings;
}
