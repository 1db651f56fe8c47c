/**
 * Who may read the admin port. Without `admin.tokenEnv` everyone who reaches it may (a loopback
 * bind, or a network only the load balancer and Prometheus reach). With it, every path but
 * `/healthz` and `/readyz` needs the token, read from the environment at start like every other
 * secret (never from the configuration file): as `Authorization: Bearer TOKEN` (curl, Prometheus's
 * `authorization` setting), or, for the page in a browser, as a cookie the sign-in URL set.
 *
 * A browser cannot add a header to a page it navigates to, so `/?token=TOKEN` (opened once) sets an
 * HttpOnly, SameSite=Strict cookie holding the token and refreshes to `/`; the page and its
 * same-origin fetches then carry the cookie until the browser closes. Another site cannot make the
 * browser send it (Strict), and could change nothing if it did (every path only reads). The
 * alternative, the token in the URL fragment read by the page's script, needs `/` itself served
 * without the token and leaves the token where any script on the page can read it; the cookie keeps
 * `/` closed and the token out of script's reach. The sign-in URL crosses the network as a header
 * would, never reaches the page, and this server logs no URLs; but the browser's history keeps it,
 * and a load balancer's access log records query strings, so sign in on the task's address, not
 * through a logged listener.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ConfigError } from './config.ts';

const COOKIE = 'shardflow_admin';

// RFC 6750 b64token: every such token is a valid cookie value and survives a query string as is.
const BEARER_TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * The admin token named by `admin.tokenEnv`, or undefined when none is configured. A variable that
 * is missing, empty or not a bearer token is a configuration error naming the key: a worker
 * configured to need a token never starts with its admin port open.
 */
export function resolveAdminToken(
  admin: { readonly tokenEnv?: string | undefined },
  env: NodeJS.ProcessEnv,
): string | undefined {
  if (admin.tokenEnv === undefined) return undefined;
  const token = env[admin.tokenEnv];
  if (token === undefined || token === '')
    throw new ConfigError(
      [`admin.tokenEnv: the environment variable ${admin.tokenEnv} is not set`],
      'environment',
    );
  if (!BEARER_TOKEN.test(token))
    throw new ConfigError(
      [
        `admin.tokenEnv: the value of ${admin.tokenEnv} is not a bearer token (letters, digits, - . _ ~ + / and a trailing =)`,
      ],
      'environment',
    );
  return token;
}

/** The admin port's access check, for a token or for none. */
export interface AdminAuth {
  /** True when no token is configured or the request carries it (header or cookie). */
  allows(req: IncomingMessage): boolean;
  /**
   * For a request to `/` with `?token=`: the `Set-Cookie` value when that token is the right one,
   * null when it is wrong; undefined when the request is no sign-in (or no token is configured).
   */
  signIn(url: URL): string | null | undefined;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** The access check of an admin server whose token is `token` (none: open). */
export function adminAuth(token: string | undefined): AdminAuth {
  if (token === undefined) return { allows: () => true, signIn: () => undefined };
  // Comparing digests keeps the comparison constant-time and equal-length whatever was sent.
  const expected = digest(token);
  const matches = (given: string | undefined) =>
    given !== undefined && timingSafeEqual(digest(given), expected);
  return {
    allows(req) {
      const header = /^Bearer +(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
      return matches(header) || matches(cookieValue(req.headers.cookie));
    },
    signIn(url) {
      if (url.pathname !== '/') return undefined;
      const given = queryToken(url.search);
      if (given === undefined) return undefined;
      return matches(given) ? `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/` : null;
    },
  };
}

function cookieValue(header: string | undefined): string | undefined {
  for (const pair of (header ?? '').split(';')) {
    const at = pair.indexOf('=');
    if (at > 0 && pair.slice(0, at).trim() === COOKIE) return pair.slice(at + 1).trim();
  }
  return undefined;
}

// Read from the raw query: URLSearchParams would turn a token's `+` into a space.
function queryToken(search: string): string | undefined {
  const raw = /[?&]token=([^&]*)/.exec(search)?.[1];
  if (raw === undefined) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return '';
  }
}
