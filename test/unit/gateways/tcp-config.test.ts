/** The TCP gateway's configuration section: defaults, acks, and errors that name the key. */
import { describe, expect, it } from 'vitest';
import { ackBytes, tcpGatewayConfigSchema } from '../../../gateways/tcp/index.ts';

describe('tcp gateway config', () => {
  it('fills in the defaults', () => {
    const config = tcpGatewayConfigSchema.parse({ listeners: [{ port: 7001, framing: { kind: 'lines' } }] });
    expect(config).toEqual({
      drainTimeoutMs: 10_000,
      listeners: [
        {
          port: 7001,
          host: '0.0.0.0',
          framing: { kind: 'lines', maxFrameBytes: 65_536 },
          ack: 'none',
          idleTimeoutMs: 300_000,
          maxConnections: 10_000,
          maxPendingFramesPerConnection: 256,
        },
      ],
    });
  });

  it('reads the ack as hex, text or none', () => {
    expect(ackBytes({ hex: '0601' })).toEqual(Buffer.from([6, 1]));
    expect(ackBytes({ text: 'OK\n' })).toEqual(Buffer.from('OK\n'));
    expect(ackBytes('none')).toBeUndefined();
  });

  it('refuses unknown keys, bad acks, no listeners and a port listened on twice, naming the key', () => {
    const issues = (input: unknown) =>
      tcpGatewayConfigSchema.safeParse(input).error?.issues.map((i) => i.path.join('.')) ?? [];
    expect(issues({ listeners: [] })).toEqual(['listeners']);
    expect(issues({ listeners: [{ port: 1, framing: { kind: 'lines' }, colour: 'red' }] })).toEqual([
      'listeners.0',
    ]);
    expect(issues({ listeners: [{ port: 1, framing: { kind: 'lines' }, ack: { hex: 'x' } }] })).toEqual([
      'listeners.0.ack.hex',
    ]);
    expect(issues({ listeners: [{ port: 70_000, framing: { kind: 'lines' } }] })).toEqual([
      'listeners.0.port',
    ]);
    const twice = { port: 9000, framing: { kind: 'lines' } };
    expect(issues({ listeners: [twice, twice] })).toEqual(['listeners.1.port']);
  });
});
