/**
 * @actorhub/client: the browser and Node client of actorhub.
 *
 * - Hub: follow jobs (resumable, gap- and duplicate-free subscriptions) and
 *   create or cancel them through a durable offline outbox.
 * - Worker: emit a job's events, durable when acked, resent across failures.
 * - The protocol's types, generated from the hub's Go schema.
 */
export { Hub, newJobId, type HubOptions, type OutboxEntry, type CreatedJob, type CancelledJob, type CreateJobOptions, type HubStats } from "./hub.js";
export { Worker, type WorkerOptions, type EmitAck } from "./worker.js";
export { Subscription, isEvent, isTerminal, type JobEvent, type DataOf, type SubscribeOptions, type SubscribedInfo } from "./subscription.js";
export { HubError } from "./errors.js";
export { MemoryStorage, IndexedDBStorage, defaultStorage, type Storage } from "./storage.js";
export { Backoff, type BackoffOptions } from "./backoff.js";
export { parseFrame } from "./frames.js";
export type { Status, ConnectionState, ConnectionOptions, TokenSource, WebSocketLike, WebSocketConstructor } from "./connection.js";
export * from "./protocol.js";
