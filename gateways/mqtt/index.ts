/** The MQTT bridge: see `bridge.ts`. */
export { AckQueue } from './ackQueue.ts';
export {
  bridgeFilters,
  type MqttBridge,
  type MqttBridgeOptions,
  type MqttBridgeStats,
  recordOf,
  startMqttBridge,
} from './bridge.ts';
export { type MqttBridgeConfig, mqttBridgeConfigSchema } from './config.ts';
export { type InboundPublish, MqttProtocolError, type MqttSession, openMqttSession } from './session.ts';
