/** One message of a `demo/chat` room (the data of its events). */
export interface ChatEntry {
  from: string;
  text: string;
  /** When the server received it (ISO 8601). */
  at: string;
}
