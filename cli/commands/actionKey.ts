/**
 * The partition key an alarm action is put on the stream with: the key of the readings under which
 * the rule operator keeps the episode, so that the action reaches that state. A child device whose
 * readings come in its hub's frames is keyed by the hub, not by itself: the key is taken from the
 * reading that raised the episode, as the gateways' producer makes it from the reading's topic
 * (`devicePartitionKey`: `devices/{id}/…` gives the id), when the Hot store still holds that reading.
 */
import { devicePartitionKey } from '../../gateways/kinesis/producer.ts';
import type { HotStore } from '../../sinks/hot/hotStore.ts';
import type { Episode } from '../../topology/index.ts';

/** The partition key of `episode`'s readings: its raising reading's, else the target's id. */
export async function actionPartitionKey(
  episode: Episode,
  readTelemetry: HotStore['readTelemetry'],
): Promise<string> {
  if (episode.target.kind !== 'device' || episode.deviceId === null) return episode.target.id;
  const [raising] = await readTelemetry({
    deviceId: episode.deviceId,
    from: episode.openedAt,
    to: episode.openedAt + 1,
    limit: 1,
  });
  const topic = raising?.rawRef.topic;
  if (topic === undefined || !topic.startsWith('devices/')) return episode.target.id;
  return devicePartitionKey({
    v: 1,
    protocol: raising!.rawRef.protocol,
    topic,
    receivedAt: 0,
    encoding: 'utf8',
    payload: '',
  });
}
