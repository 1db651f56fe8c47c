/**
 * Who is calling. API keys come from an environment variable as `name:key,name:key`; only their
 * SHA-256 digests are kept, and a presented key is compared with every one of them by
 * `timingSafeEqual`, so neither the answer's time nor a memory dump gives a key away. With mTLS the
 * TLS layer has already refused a client without a certificate signed by the configured CA; the
 * certificate's CN is the caller's name. With both, both must hold and the key names the caller.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

/** A configured API key: its name (the caller's, in the envelope's `source`) and the key's digest. */
export interface ApiKey {
  readonly name: string;
  readonly digest: Buffer;
}

/** Why a caller was not let in, or their name. */
export type Caller = { readonly name: string } | { readonly refused: string };

const NAME = /^[A-Za-z0-9._-]{1,64}$/;

const digestOf = (key: string) => createHash('sha256').update(key, 'utf8').digest();

/**
 * Reads `name:key,name:key` (the value of the variable `env` names). Throws, naming the variable
 * and never the key, when it is missing, empty or malformed.
 */
export function parseApiKeys(text: string | undefined, env: string): ApiKey[] {
  if (text === undefined || text.trim() === '')
    throw new Error(`the environment variable ${env} (the REST gateway's API keys) is not set or empty`);
  const keys: ApiKey[] = [];
  const names = new Set<string>();
  text.split(',').forEach((pair, i) => {
    const colon = pair.indexOf(':');
    const name = colon === -1 ? '' : pair.slice(0, colon).trim();
    const key = colon === -1 ? '' : pair.slice(colon + 1).trim();
    if (!NAME.test(name))
      throw new Error(
        `${env}: entry ${i + 1} needs "name:key" with a name of letters, digits, '.', '_' or '-'`,
      );
    if (key.length < 16) throw new Error(`${env}: the key of "${name}" is shorter than 16 characters`);
    if (names.has(name)) throw new Error(`${env}: the name "${name}" appears twice`);
    names.add(name);
    keys.push({ name, digest: digestOf(key) });
  });
  return keys;
}

/** The key a request presents: `x-api-key`, or `Authorization: Bearer <key>`. */
function presentedKey(request: IncomingMessage): string | undefined {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header !== '') return header;
  const authorization = request.headers.authorization;
  if (authorization !== undefined && /^bearer /i.test(authorization)) return authorization.slice(7).trim();
  return undefined;
}

/** The name of the key the request presents, comparing with every key so the time says nothing. */
function keyName(keys: readonly ApiKey[], key: string): string | undefined {
  const digest = digestOf(key);
  let found: string | undefined;
  for (const candidate of keys) if (timingSafeEqual(candidate.digest, digest)) found ??= candidate.name;
  return found;
}

/** The CN of the verified client certificate of an mTLS request. */
function certificateName(request: IncomingMessage): string | undefined {
  const socket = request.socket as TLSSocket;
  if (!socket.authorized) return undefined;
  const cn = socket.getPeerCertificate?.()?.subject?.CN;
  const name = Array.isArray(cn) ? cn[0] : cn;
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/** How the gateway authenticates, ready to ask of each request. */
export interface Authenticator {
  /** The scheme for `WWW-Authenticate` on a 401. */
  readonly challenge: string;
  identify(request: IncomingMessage): Caller;
}

/** An authenticator from the API keys (if any) and whether mTLS is on; neither: everyone is `anonymous`. */
export function authenticator(keys: readonly ApiKey[] | undefined, mtls: boolean): Authenticator {
  return {
    challenge: 'ApiKey realm="shardflow", header="x-api-key"',
    identify(request) {
      let name: string | undefined;
      if (mtls) {
        name = certificateName(request);
        if (name === undefined) return { refused: 'no verified client certificate with a CN' };
      }
      if (keys !== undefined) {
        const key = presentedKey(request);
        if (key === undefined) return { refused: 'no API key (send it in the x-api-key header)' };
        name = keyName(keys, key);
        if (name === undefined) return { refused: 'unknown API key' };
      }
      return { name: name ?? 'anonymous' };
    },
  };
}
