import type { AppConfig } from './app-config.js';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The weakest argon2id profile of OWASP's Password Storage Cheat Sheet, 7 MiB × 5 passes (our
 * default): its others trade memory for passes at a memory × passes product no lower than this.
 */
const OWASP_MIN_MEMORY_KIB = 7168;
const OWASP_MIN_MEMORY_PASSES = 7168 * 5;

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
  const { memoryCost, timeCost } = config.auth.argon2;
  if (memoryCost < OWASP_MIN_MEMORY_KIB || memoryCost * timeCost < OWASP_MIN_MEMORY_PASSES) {
    warnings.push(
      `ARGON2_MEMORY_KIB=${memoryCost} with ARGON2_ITERATIONS=${timeCost} in production is below every argon2id profile OWASP lists (at least ${OWASP_MIN_MEMORY_KIB} KiB, and KiB × iterations at least ${OWASP_MIN_MEMORY_PASSES}, e.g. 7168 × 5 or 19456 × 2), and password hashes are rewritten with it at each login; unset both for the default`,
    );
  }
  if (!config.http.cookieSecure) {
    warnings.push(
      'COOKIE_SECURE=false in production: the refresh cookie is sent over plain http too; remove it once TLS is in front of the service',
    );
  }
  return warnings;
}
