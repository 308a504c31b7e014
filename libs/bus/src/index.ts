export { Bus, BusUnreachableError, type BusOptions, type PublishResult } from './bus.js';
export {
  BusAdminError,
  type BusAdmin,
  type ClusterView,
  type ConsumerView,
  type ReadRange,
  type StoredMessage,
  type StreamView,
} from './admin.js';
export { decodeWith, encodeJson } from './codec.js';
export { BusPermissionError, ensureStreams, isPermissionError } from './streams.js';
export { ConsumerRunner, ensureConsumer, type ConsumeOptions, type Delivery, type Settlement } from './consumer.js';
export { ConfirmingStreamPublisher, StreamPublisher, StreamPublishError, type StreamAck } from './stream-publisher.js';
export { connectionOptions, redactNatsUrl, redactSecrets, splitNatsUrl, type NatsAuth } from './connection.js';
export { instanceInfo, pingInstances, type PingResult } from './ping.js';
