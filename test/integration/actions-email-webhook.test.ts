/**
 * The e-mail and webhook channels against real servers in process: an SMTP server (smtp-server) that
 * refuses some recipients permanently (550) or for now (451), and a node:http server that answers as
 * each test asks. The messages and requests that arrive are counted and their headers checked.
 */
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Channel, Delivery } from '../../actions/channels/channel.ts';
import { emailChannel, messageIdOf } from '../../actions/channels/email.ts';
import { webhookChannel, webhookSignature } from '../../actions/channels/webhook.ts';

const facts = { device: 'dev-1', value: 81.5, latched: false, site: null };

function email(key: string, to: string): Delivery<'email'> {
  return { key, payload: { to, subject: `alarm ${key}`, body: 'temperature above 80 °C', facts } };
}

/** A header of a raw message, its folded lines joined. */
function headerOf(raw: string, name: string): string | undefined {
  const head = raw.split('\r\n\r\n')[0]!.replace(/\r\n[ \t]+/g, ' ');
  const line = head.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
}

describe('email channel', () => {
  const received: { to: string[]; raw: string }[] = [];
  let server: SMTPServer;
  let port: number;
  let channel: Channel<'email'>;

  beforeAll(async () => {
    server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onRcptTo(address, _session, callback) {
        const refuse = (code: number, text: string) =>
          callback(Object.assign(new Error(text), { responseCode: code }));
        if (address.address.startsWith('gone@')) return refuse(550, 'no such mailbox');
        if (address.address.startsWith('busy@')) return refuse(451, 'try again later');
        callback();
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          received.push({
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString('utf8'),
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.server.address() as AddressInfo).port;
    channel = emailChannel({
      host: '127.0.0.1',
      port,
      from: 'alarms@shardflow.test',
      pool: 2,
      timeoutMs: 5000,
    });
  });

  afterAll(async () => {
    await channel.close?.();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('sends each message once, with the Message-ID derived from its key and the key header', async () => {
    const batch = [1, 2, 3, 4, 5].map((i) => email(`ep-${i}/notify/email`, `ops${i}@example.com`));
    const results = await channel.send(batch);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(received).toHaveLength(5);
    for (const [i, d] of batch.entries()) {
      const msg = received.find((m) => m.to.includes(`ops${i + 1}@example.com`));
      expect(msg).toBeDefined();
      const expectedId = `<${createHash('sha256').update(d.key).digest('hex')}@shardflow>`;
      expect(messageIdOf(d.key)).toBe(expectedId);
      expect(headerOf(msg!.raw, 'Message-ID')).toBe(expectedId);
      expect(headerOf(msg!.raw, 'X-Shardflow-Key')).toBe(d.key);
      expect(headerOf(msg!.raw, 'Subject')).toBe(`alarm ${d.key}`);
      expect(results[i]).toEqual({ ok: true, ref: expectedId });
    }
  });

  it('a permanent refusal (550) is not retried, one for now (451) is; the rest of the batch goes', async () => {
    received.length = 0;
    const results = await channel.send([
      email('k-gone', 'gone@example.com'),
      email('k-busy', 'busy@example.com'),
      email('k-fine', 'fine@example.com'),
    ]);
    expect(results[0]).toMatchObject({ ok: false, retry: false });
    expect(results[0]!.ok === false && results[0]!.error).toContain('550');
    expect(results[1]).toMatchObject({ ok: false, retry: true });
    expect(results[1]!.ok === false && results[1]!.error).toContain('451');
    expect(results[2]).toMatchObject({ ok: true });
    expect(received.map((m) => m.to)).toEqual([['fine@example.com']]);
  });

  it('a relay that cannot be reached is tried again', async () => {
    const closed = new SMTPServer({ logger: false });
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const dead = emailChannel({ host: '127.0.0.1', port: deadPort, from: 'a@b.test', timeoutMs: 2000 });
    try {
      const [result] = await dead.send([email('k-dead', 'x@example.com')]);
      expect(result).toMatchObject({ ok: false, retry: true });
    } finally {
      await dead.close?.();
    }
  });

  it('keeps at most `pool` messages in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const slow = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, _session, callback) {
        inFlight++;
        most = Math.max(most, inFlight);
        stream.resume();
        stream.on('end', () =>
          setTimeout(() => {
            inFlight--;
            callback();
          }, 50),
        );
      },
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const slowPort = (slow.server.address() as AddressInfo).port;
    const limited = emailChannel({ host: '127.0.0.1', port: slowPort, from: 'a@b.test', pool: 2 });
    try {
      const results = await limited.send(
        Array.from({ length: 8 }, (_, i) => email(`k-${i}`, `p${i}@example.com`)),
      );
      expect(results.every((r) => r.ok)).toBe(true);
      expect(most).toBeGreaterThan(0);
      expect(most).toBeLessThanOrEqual(2);
    } finally {
      await limited.close?.();
      await new Promise<void>((resolve) => slow.close(() => resolve()));
    }
  });
});

describe('webhook channel', () => {
  interface Seen {
    readonly path: string;
    readonly headers: IncomingMessage['headers'];
    readonly body: string;
  }
  const seen: Seen[] = [];
  let server: Server;
  let base: string;
  const SECRET = 'webhook-secret';

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '/';
        seen.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        if (path === '/ok') return res.writeHead(204).end();
        if (path === '/busy') return res.writeHead(503, { 'Retry-After': '7' }).end('overloaded');
        if (path === '/throttled') return res.writeHead(429).end();
        if (path === '/bad') return res.writeHead(400).end('no such hook');
        if (path === '/slow') return setTimeout(() => res.writeHead(200).end(), 2000);
        res.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const hook = (key: string, path: string): Delivery<'webhook'> => ({
    key,
    payload: { to: `${base}${path}`, subject: 'overheat', body: 'too hot', facts },
  });

  it('posts the JSON body with its Idempotency-Key and an HMAC signature the receiver can check', async () => {
    seen.length = 0;
    const channel = webhookChannel({ secret: SECRET });
    const [result] = await channel.send([hook('ep-1/notify/webhook', '/ok')]);
    expect(result).toEqual({ ok: true, ref: '204' });
    expect(seen).toHaveLength(1);
    const req = seen[0]!;
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['idempotency-key']).toBe('ep-1/notify/webhook');
    expect(JSON.parse(req.body)).toEqual({
      key: 'ep-1/notify/webhook',
      subject: 'overheat',
      body: 'too hot',
      facts,
    });
    // the receiver's check: an HMAC over the raw body bytes, with the shared secret
    const hmac = createHmac('sha256', SECRET).update(Buffer.from(req.body, 'utf8')).digest('hex');
    expect(req.headers['x-shardflow-signature']).toBe(`sha256=${hmac}`);
    expect(webhookSignature('another', req.body)).not.toBe(`sha256=${hmac}`);
  });

  it('without a secret sends no signature', async () => {
    seen.length = 0;
    await webhookChannel().send([hook('k', '/ok')]);
    expect(seen[0]!.headers['x-shardflow-signature']).toBeUndefined();
  });

  it('503 with Retry-After and 429 are retried, 400 is not, a timeout is', async () => {
    const channel = webhookChannel({ timeoutMs: 300, concurrency: 2 });
    const results = await channel.send([
      hook('a', '/busy'),
      hook('b', '/throttled'),
      hook('c', '/bad'),
      hook('d', '/slow'),
      hook('e', '/ok'),
    ]);
    expect(results[0]).toEqual({ ok: false, retry: true, error: 'HTTP 503: overloaded', retryAfterMs: 7000 });
    expect(results[1]).toEqual({ ok: false, retry: true, error: 'HTTP 429' });
    expect(results[2]).toEqual({ ok: false, retry: false, error: 'HTTP 400: no such hook' });
    expect(results[3]).toMatchObject({ ok: false, retry: true });
    expect(results[3]!.ok === false && results[3]!.error).toContain('no answer within 300 ms');
    expect(results[4]).toEqual({ ok: true, ref: '204' });
  });

  it('a refused connection is retried, a URL that is not http(s) is not', async () => {
    const results = await webhookChannel().send([
      { ...hook('a', '/ok'), payload: { ...hook('a', '/ok').payload, to: 'http://127.0.0.1:1/hook' } },
      { ...hook('b', '/ok'), payload: { ...hook('b', '/ok').payload, to: 'ftp://example.com/x' } },
    ]);
    expect(results[0]).toMatchObject({ ok: false, retry: true });
    expect(results[1]).toMatchObject({ ok: false, retry: false });
  });
});
