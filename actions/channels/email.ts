/**
 * The e-mail channel: each notification one message through an SMTP relay (nodemailer's pooled SMTP
 * transport), at most `pool` messages in flight on as many connections. The message's `Message-ID`
 * is derived from the action's idempotency key, so a message sent twice after a lost answer is one
 * message to a receiver that deduplicates by it; `X-Shardflow-Key` carries the key itself.
 *
 * An SMTP answer in 5xx is permanent (a refused address, a message the relay will never take): no
 * retry. A 4xx answer, a timeout or a broken connection is tried again later.
 */
import { createHash } from 'node:crypto';
import { createTransport } from 'nodemailer';
import type { Channel, Delivery, DeliveryResult } from './channel.ts';
import { mapBounded } from './mapBounded.ts';

/** How to reach the SMTP relay. Credentials come from the caller (environment, Secrets Manager). */
export interface EmailChannelOptions {
  readonly host: string;
  readonly port: number;
  /** TLS from the start (port 465); otherwise STARTTLS when the server offers it. */
  readonly secure?: boolean;
  readonly user?: string;
  readonly password?: string;
  /** The sender address. */
  readonly from: string;
  /** Connection, greeting and socket timeout (default 30 s). */
  readonly timeoutMs?: number;
  /** Pooled connections, and so messages in flight (default 4). */
  readonly pool?: number;
}

/** The `Message-ID` of an action: the same key, the same id. */
export function messageIdOf(key: string): string {
  return `<${createHash('sha256').update(key).digest('hex')}@shardflow>`;
}

/** What a failed send means: nodemailer's errors carry the SMTP reply code when there was one. */
function emailFailure(error: unknown): DeliveryResult {
  const e = error as { responseCode?: unknown; code?: unknown; message?: unknown };
  const reply = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const message = `${typeof e.code === 'string' ? `${e.code}: ` : ''}${String(e.message ?? error)}`;
  return { ok: false, retry: reply === undefined || reply < 500 || reply >= 600, error: message };
}

/**
 * An e-mail channel over a pooled SMTP transport.
 *
 * @example const email = emailChannel({ host: 'email-smtp.eu-west-1.amazonaws.com', port: 587, user, password, from: 'alarms@example.com' });
 */
export function emailChannel(options: EmailChannelOptions): Channel<'email'> {
  const timeout = options.timeoutMs ?? 30_000;
  const pool = options.pool ?? 4;
  const transport = createTransport({
    pool: true,
    maxConnections: pool,
    host: options.host,
    port: options.port,
    secure: options.secure ?? false,
    ...(options.user === undefined ? {} : { auth: { user: options.user, pass: options.password ?? '' } }),
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
  });

  const sendOne = async ({ key, payload }: Delivery<'email'>): Promise<DeliveryResult> => {
    try {
      const info = await transport.sendMail({
        from: options.from,
        to: payload.to,
        subject: payload.subject,
        text: payload.body,
        messageId: messageIdOf(key),
        headers: { 'X-Shardflow-Key': key },
      });
      return { ok: true, ref: info.messageId };
    } catch (error) {
      return emailFailure(error);
    }
  };

  return {
    kind: 'email',
    send: function sendEmail(batch) {
      return mapBounded(batch, pool, sendOne);
    },
    close: async () => transport.close(),
  };
}
