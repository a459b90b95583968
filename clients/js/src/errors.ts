import type { ErrorCode } from "./protocol.js";

/**
 * HubError is what a refused request rejects with: the node's error code
 * (ErrorCodes), or "closed" when the Hub or Worker was closed first, or
 * "storage" when the outbox could not store the command; and its message.
 */
export class HubError extends Error {
  readonly code: ErrorCode | "closed" | "storage" | (string & {});
  readonly jobId: string | undefined;

  constructor(code: string, message: string, jobId?: string) {
    super(jobId ? `${code}: ${message} (job ${jobId})` : `${code}: ${message}`);
    this.name = "HubError";
    this.code = code;
    this.jobId = jobId;
  }
}

/** Codes after which the same request may succeed later: it is sent again. */
export function retryable(code: string): boolean {
  return code === "unavailable" || code === "timeout" || code === "rate_limited";
}
