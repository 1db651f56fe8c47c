/**
 * Device Shadow commands: each delivery sets part of a thing's `desired` state (classic or named
 * shadow) with `UpdateThingShadow`. The update names the version just read, so it applies only to
 * the shadow it was decided on; another writer in between makes the service answer
 * `ConflictException`, and the channel reads again and retries a few times before giving the
 * delivery back for a later try. A thing without a shadow gets one (no version to name).
 *
 * The `clientToken` is derived from the idempotency key, so the device and the logs can tell which
 * action a change came from. The service does not deduplicate on it; a replay sets the same desired
 * values again, which leaves the device's goal unchanged.
 */
import {
  GetThingShadowCommand,
  type IoTDataPlaneClient,
  UpdateThingShadowCommand,
} from '@aws-sdk/client-iot-data-plane';
import { errorCodeOf, failedDelivery, sha256Hex } from './aws.ts';
import type { Channel, Delivery, DeliveryResult, ShadowReader } from './channel.ts';
import { mapBounded } from './mapBounded.ts';

/** Options of the shadow channel. */
export interface ShadowChannelOptions {
  /** Deliveries in flight at once (default 8). */
  readonly concurrency?: number;
  /** Read-and-update attempts within one send when the version moved (default 3). */
  readonly conflictAttempts?: number;
  /** The wait asked for after a throttle, a server error or repeated conflicts (default 1000 ms). */
  readonly backoffMs?: number;
}

type ShadowDocument = {
  readonly state?: { readonly reported?: Readonly<Record<string, unknown>> };
  readonly version?: number;
};

/** A channel that sets Device Shadow `desired` state, and reads the `reported` state back. */
export function shadowChannel(
  client: IoTDataPlaneClient,
  options: ShadowChannelOptions = {},
): Channel<'shadow'> & ShadowReader {
  const concurrency = options.concurrency ?? 8;
  const conflictAttempts = options.conflictAttempts ?? 3;
  const backoffMs = options.backoffMs ?? 1000;

  /** The shadow document, or undefined when the thing has no such shadow. */
  async function read(
    thingName: string,
    shadowName: string | undefined,
  ): Promise<ShadowDocument | undefined> {
    try {
      const answer = await client.send(new GetThingShadowCommand({ thingName, shadowName }));
      return decode(answer.payload);
    } catch (error) {
      if (errorCodeOf(error) === 'ResourceNotFoundException') return undefined;
      throw error;
    }
  }

  async function update(delivery: Delivery<'shadow'>): Promise<DeliveryResult> {
    const { thingName, shadowName, desired } = delivery.payload;
    const clientToken = sha256Hex(delivery.key);
    for (let attempt = 1; ; attempt++) {
      try {
        const version = (await read(thingName, shadowName))?.version;
        const document = { state: { desired }, clientToken, ...(version === undefined ? {} : { version }) };
        const answer = await client.send(
          new UpdateThingShadowCommand({ thingName, shadowName, payload: encode(document) }),
        );
        const updated = decode(answer.payload);
        return { ok: true, ...(updated?.version === undefined ? {} : { ref: String(updated.version) }) };
      } catch (error) {
        if (errorCodeOf(error) !== 'ConflictException') return failedDelivery(error, backoffMs);
        if (attempt >= conflictAttempts)
          return {
            ok: false,
            retry: true,
            error: `ConflictException: the shadow of ${thingName} changed under ${attempt} updates in a row`,
            retryAfterMs: backoffMs,
          };
      }
    }
  }

  return {
    kind: 'shadow',
    send: (batch) => mapBounded(batch, concurrency, update),
    async reported(thingName, shadowName) {
      return (await read(thingName, shadowName))?.state?.reported;
    },
  };
}

function encode(document: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(document));
}

function decode(payload: Uint8Array | undefined): ShadowDocument | undefined {
  if (payload === undefined || payload.length === 0) return undefined;
  return JSON.parse(new TextDecoder().decode(payload)) as ShadowDocument;
}
