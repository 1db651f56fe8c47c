/** The TCP gateway: its configuration section and its start. */
export {
  ackBytes,
  type TcpGatewayConfig,
  type TcpGatewayConfigInput,
  type TcpListenerConfig,
  tcpGatewayConfigSchema,
  tcpListenerSchema,
} from './config.ts';
export type { TcpCounters } from './connection.ts';
export {
  startTcpGateway,
  type TcpGateway,
  type TcpGatewayOptions,
  type TcpListenerAddress,
} from './gateway.ts';
