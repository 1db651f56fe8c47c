/**
 * What the outbox's deliverer needs of a channel: send a batch of actions and say, for each one,
 * whether it is done, should be tried again, or can never succeed. A channel groups the batch as its
 * service allows (SNS: at most 10 entries and 256 KiB per PublishBatch request) and never throws for
 * one action's own failure; it throws only when it could not reach its service at all (the deliverer
 * then retries the whole batch later).
 *
 * Every action carries its idempotency key (`episode/step/channel`, the outbox row's key). Channels
 * pass it to the receiver where the receiver can use it: SNS message attribute and, on FIFO topics,
 * the deduplication id; the e-mail `Message-ID`; the webhook `Idempotency-Key` header; the shadow
 * update's `clientToken`; the IoT job id and the Step Functions execution name, which the services
 * themselves refuse to create twice.
 */

/** The channels the outbox delivers on. */
export const CHANNEL_KINDS = ['sns', 'email', 'webhook', 'shadow', 'firmware', 'workflow'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

/** A notification: SNS, e-mail and webhooks all carry these. */
export interface NotificationPayload {
  /** SNS topic ARN, e-mail address or webhook URL. */
  readonly to: string;
  readonly subject: string;
  readonly body: string;
  /** The alarm facts as JSON (the webhook's body; SNS message attributes and e-mail headers carry a few). */
  readonly facts: Readonly<Record<string, string | number | boolean | null>>;
}

/** A Device Shadow `desired` change. */
export interface ShadowPayload {
  readonly thingName: string;
  /** A named shadow; the classic shadow when absent. */
  readonly shadowName?: string;
  readonly desired: Readonly<Record<string, unknown>>;
}

/** An IoT job that updates one device's firmware. */
export interface FirmwarePayload {
  /** Derived from the episode and the firmware version: a replay finds the job there already. */
  readonly jobId: string;
  readonly thingName: string;
  readonly version: string;
  readonly document: Readonly<Record<string, unknown>>;
  readonly maximumPerMinute: number;
  readonly abortFailurePercent: number;
  readonly abortMinExecutions: number;
  readonly timeoutMinutes: number;
}

/** A Step Functions execution of the dispatch workflow. */
export interface WorkflowPayload {
  /** The execution name (the dispatch id): Step Functions starts one execution per name. */
  readonly name: string;
  readonly input: Readonly<Record<string, unknown>>;
}

export interface PayloadOf {
  readonly sns: NotificationPayload;
  readonly email: NotificationPayload;
  readonly webhook: NotificationPayload;
  readonly shadow: ShadowPayload;
  readonly firmware: FirmwarePayload;
  readonly workflow: WorkflowPayload;
}

/** One action to deliver. */
export interface Delivery<K extends ChannelKind = ChannelKind> {
  /** The outbox row's idempotency key. */
  readonly key: string;
  readonly payload: PayloadOf[K];
}

/** What became of one delivery. */
export type DeliveryResult =
  /** Done; `ref` is what the service answered (message id, job id, shadow version, execution ARN). */
  | { readonly ok: true; readonly ref?: string }
  /**
   * Not done. `retry`: a throttle, a conflict, a server error (tried again after a backoff, or after
   * `retryAfterMs`); otherwise it can never succeed as it is (a refused address, a missing thing).
   */
  | { readonly ok: false; readonly retry: boolean; readonly error: string; readonly retryAfterMs?: number };

/** A channel: sends batches of one kind. */
export interface Channel<K extends ChannelKind = ChannelKind> {
  readonly kind: K;
  /** One result per delivery, in order. Throws only when the service could not be reached at all. */
  send(batch: readonly Delivery<K>[]): Promise<DeliveryResult[]>;
  close?(): Promise<void>;
}

/** The reported state of a device's shadow, for the check that a remote fix worked. */
export interface ShadowReader {
  /** The `state.reported` document, or undefined when the thing has no shadow. */
  reported(thingName: string, shadowName?: string): Promise<Readonly<Record<string, unknown>> | undefined>;
}
