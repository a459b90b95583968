import type { ServerFrame, WorkerServerFrame } from "./protocol.js";

/**
 * The objects of one text frame: a frame carries one or more JSON objects
 * separated by newlines. A line that is not a JSON object with a string `type`
 * is skipped (and counted by the caller through `bad`), never thrown: a node
 * of a newer version may send what this client does not know.
 */
export function parseFrame<T extends { type: string } = ServerFrame | WorkerServerFrame>(
  data: unknown,
  bad?: (line: string, why: string) => void,
): T[] {
  if (typeof data !== "string") {
    bad?.(String(data), "not a text frame");
    return [];
  }
  const out: T[] = [];
  let start = 0;
  while (start < data.length) {
    let end = data.indexOf("\n", start);
    if (end < 0) end = data.length;
    const line = data.slice(start, end);
    start = end + 1;
    if (line.trim() === "") continue;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      bad?.(line, "not JSON");
      continue;
    }
    if (obj === null || typeof obj !== "object" || Array.isArray(obj) || typeof (obj as { type?: unknown }).type !== "string") {
      bad?.(line, "not an object with a type");
      continue;
    }
    out.push(obj as T);
  }
  return out;
}

/** Reports whether v is a non-negative safe integer. */
export function isSeq(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}
