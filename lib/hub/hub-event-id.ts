/**
 * Hub event ids: `<epoch>.<position>`. The epoch names one life of the history store, so
 * an id from before a data loss is recognised instead of being misread; the position
 * orders events within a topic.
 */
export function formatHubEventId(epoch: string, position: string): string {
  return `${epoch}.${position}`;
}

/** Splits an event id; `undefined` when it is not one of ours. */
export function parseHubEventId(id: string): { epoch: string; position: string } | undefined {
  const dot = id.indexOf('.');
  if (dot <= 0 || dot === id.length - 1) return undefined;
  return { epoch: id.slice(0, dot), position: id.slice(dot + 1) };
}
