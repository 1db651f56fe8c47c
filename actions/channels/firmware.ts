/**
 * Firmware updates as AWS IoT jobs: each delivery creates one job (`CreateJob`) for one thing, with
 * its rollout rate, abort criteria and in-progress timeout always set, so a bad image stops itself.
 * The job id comes from the payload (episode and version), and IoT refuses to create a job id twice:
 * `ResourceAlreadyExistsException` means an earlier send (or a replay) created it, which is done.
 */
import { CreateJobCommand, type CreateJobRequest, type IoTClient } from '@aws-sdk/client-iot';
import { errorCodeOf, failedDelivery } from './aws.ts';
import type { Channel, DeliveryResult, FirmwarePayload } from './channel.ts';
import { mapBounded } from './mapBounded.ts';

/** Options of the firmware channel. */
export interface FirmwareChannelOptions {
  /** The ARN of a thing, the job's one target. */
  thingArn(thingName: string): string;
  /** CreateJob calls in flight at once (default 4: IoT allows few CreateJob calls per second). */
  readonly concurrency?: number;
  /** The wait asked for after a throttle or a server error (default 2000 ms). */
  readonly backoffMs?: number;
}

const JOB_ID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_DOCUMENT_BYTES = 32_768;

/** A channel creating one IoT job per firmware update. */
export function firmwareChannel(client: IoTClient, options: FirmwareChannelOptions): Channel<'firmware'> {
  const concurrency = options.concurrency ?? 4;
  const backoffMs = options.backoffMs ?? 2000;

  async function createJob(payload: FirmwarePayload): Promise<DeliveryResult> {
    const problem = payloadProblem(payload);
    if (problem) return { ok: false, retry: false, error: problem };
    try {
      await client.send(new CreateJobCommand(jobRequest(payload, options.thingArn(payload.thingName))));
      return { ok: true, ref: payload.jobId };
    } catch (error) {
      if (errorCodeOf(error) === 'ResourceAlreadyExistsException') return { ok: true, ref: payload.jobId };
      return failedDelivery(error, backoffMs);
    }
  }

  return {
    kind: 'firmware',
    send: (batch) => mapBounded(batch, concurrency, (d) => createJob(d.payload)),
  };
}

/** The CreateJob request of one firmware update. */
export function jobRequest(payload: FirmwarePayload, thingArn: string): CreateJobRequest {
  return {
    jobId: payload.jobId,
    targets: [thingArn],
    targetSelection: 'SNAPSHOT',
    document: JSON.stringify(payload.document),
    description: `Firmware ${payload.version} for ${payload.thingName}`.slice(0, 2028),
    jobExecutionsRolloutConfig: { maximumPerMinute: payload.maximumPerMinute },
    abortConfig: {
      criteriaList: [
        {
          failureType: 'FAILED',
          action: 'CANCEL',
          thresholdPercentage: payload.abortFailurePercent,
          minNumberOfExecutedThings: payload.abortMinExecutions,
        },
      ],
    },
    timeoutConfig: { inProgressTimeoutInMinutes: payload.timeoutMinutes },
  };
}

/** Why IoT would refuse this job as it is (IoT's own limits), or undefined. */
function payloadProblem(p: FirmwarePayload): string | undefined {
  if (!JOB_ID.test(p.jobId)) return `job id '${p.jobId}' is not 1-64 letters, digits, '_' or '-'`;
  if (!isIntIn(p.maximumPerMinute, 1, 1000)) return `maximumPerMinute ${p.maximumPerMinute} is not 1-1000`;
  if (!(p.abortFailurePercent >= 0 && p.abortFailurePercent <= 100))
    return `abortFailurePercent ${p.abortFailurePercent} is not 0-100`;
  if (!isIntIn(p.abortMinExecutions, 1, Number.MAX_SAFE_INTEGER))
    return `abortMinExecutions ${p.abortMinExecutions} is not a positive integer`;
  if (!isIntIn(p.timeoutMinutes, 1, 10_080)) return `timeoutMinutes ${p.timeoutMinutes} is not 1-10080`;
  const bytes = Buffer.byteLength(JSON.stringify(p.document));
  if (bytes > MAX_DOCUMENT_BYTES)
    return `the job document is ${bytes} bytes, over IoT's ${MAX_DOCUMENT_BYTES}`;
  return undefined;
}

function isIntIn(n: number, min: number, max: number): boolean {
  return Number.isInteger(n) && n >= min && n <= max;
}
