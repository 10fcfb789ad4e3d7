// @ts-check
// The demo page: every panel on one client of `nestjs-longlink/client` (served as /client.js).
// Its calls are typed by the client file that `nestjs-longlink generate` wrote for the sample
// (sample/generated/streams.client.ts): stream names, params and event data are checked
// against the server's handlers (test/e2e/codegen-sample.spec.ts type-checks this file).
import { createClient } from '/client.js';
import uPlot from '/vendor/uplot.js';

/** @type {(id: string) => HTMLElement} */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
/** @type {(id: string) => HTMLInputElement} */
const $input = (id) => /** @type {HTMLInputElement} */ ($(id));
const query = new URLSearchParams(location.search);
const room = query.get('room') || 'lobby';
const choice = /** @type {import('/client.js').TransportChoice} */ (query.get('transport') || 'auto');

/** @typedef {import('../generated/streams.client.js').Streams} Streams */
/** @typedef {import('/client.js').StreamError} StreamError */
const client = /** @type {import('/client.js').TypedLonglinkClient<Streams>} */ (
  createClient({
    transport: choice,
    wsPath: query.get('wsPath') || '/ws',
    // ?retryMs=N: a fixed reconnect delay (to watch the browser's `online` event cut it short)
    retry: query.has('retryMs') ? { initialMs: Number(query.get('retryMs')), jitter: 'none' } : { initialMs: 250, maxMs: 5000 },
    autoRetryWsMs: 10_000,
    // demo/secure: the page's credential is the demo token (in your app: the user's session or access token).
    connectionParams: { token: 'demo-token' }, // WebSocket: the init message, read by guards as call.connectionParams
    ticket: async (stream) => (stream === 'demo/secure' ? fetchTicket() : ''), // SSE: a fresh ticket per (re)connect
    sse: { post: ['demo/complete'] }, // POST streams are requested with POST and a JSON body over SSE
  })
);
/** @type {(response: Response) => Promise<unknown>} */
const json = (response) => response.json();
/** @returns {Promise<string>} */
async function fetchTicket() {
  // Your app would authenticate this request by its session cookie; the demo route takes the bearer token.
  const response = await fetch('/demo/ticket', { method: 'POST', headers: { authorization: 'Bearer demo-token' } });
  return /** @type {{ ticket: string }} */ (await json(response)).ticket;
}
// For the curious (and the page's tests): everything each panel received.
/**
 * @type {{ client: typeof client, counter: number[], chat: (string | undefined)[], ticker: number, resets: string[], reply: number[],
 *   secure: boolean[], online: string[], typing: string[] }}
 */
const demo = { client, counter: [], chat: [], ticker: 0, resets: [], reply: [], secure: [], online: [], typing: [] };
/** @type {Window & { demo?: typeof demo }} */ (window).demo = demo;

// Connection panel
$('conn-choice').textContent = choice;
const render = () => {
  $('conn-transport').textContent = client.transport;
  $('conn-reconnects').textContent = String(client.reconnects);
  for (const via of document.querySelectorAll('.via')) via.textContent = `via ${client.transport}`;
};
client.state$.subscribe((state) => {
  $('conn-state').textContent = state;
  $('conn-state').className = `state-${state}`;
  render();
});
setInterval(render, 250);
$('switch').onclick = () => (client.switchTransport(client.transport === 'ws' ? 'sse' : 'ws'), render());
$('drop').onclick = () => client.drop();

// demo/clock
client.stream('demo/clock').subscribe(({ now }) => {
  $('clock').textContent = new Date(now).toLocaleTimeString();
  $('clock').dataset.now = String(now);
});

// demo/counter: checks itself for gaps and duplicates
let gaps = 0;
let duplicates = 0;
client.stream('demo/counter', { count: 10_000, intervalMs: 100 }).subscribe(({ n }) => {
  const last = demo.counter.at(-1);
  if (last !== undefined && n <= last) duplicates++;
  else if (last !== undefined && n !== last + 1) gaps++;
  demo.counter.push(n);
  $('counter').textContent = String(n);
  $('counter-check').textContent = `received ${demo.counter.length} · gaps ${gaps} · duplicates ${duplicates}`;
});

// demo/chat, a two-way stream: out, the room's last 20 messages, then live ones; in, this
// page's lines and typing state, sent over the same subscription (acked once each, resent
// after drops, restarts and transport switches until acked).
$('room-name').textContent = room;
/** @type {(text: string, notice?: boolean) => void} */
const line = (text, notice) => {
  const li = document.createElement('li');
  li.textContent = text;
  if (notice) li.className = 'notice';
  $('chat-log').append(li);
  $('chat-log').scrollTop = $('chat-log').scrollHeight;
};
// This page's name in the room (?name=, or a random guest name): its lines are posted as from it.
const me = query.get('name') || `guest-${Math.random().toString(36).slice(2, 6)}`;
$input('chat-from').value = me;
const chat = client.channel('demo/chat', { room, history: 20, name: me });
// `events`: the channel's output with event ids (kept in demo.chat) and reset notices.
chat.events.subscribe((e) => {
  if (e.type === 'reset') {
    demo.resets.push(e.reason);
    return line(`— some messages could not be recovered (${e.reason}) —`, true);
  }
  demo.chat.push(e.id);
  line(`${e.data.from}: ${e.data.text}`);
});

// demo/presence: who is online and who is typing. A `state` replaces the list; a diff removes
// its leaves' refs, then adds its joins' refs (an update is both, with the same ref).
/** @type {Map<string, { key: string, meta: unknown }>} */
const metas = new Map(); // ref → { key, meta }
const renderOnline = () => {
  /** @type {Set<string>} */
  const online = new Set();
  /** @type {Set<string>} */
  const typing = new Set();
  for (const { key, meta } of metas.values()) {
    online.add(key);
    if (meta && /** @type {{ typing?: unknown }} */ (meta).typing) typing.add(key);
  }
  demo.online = [...online].sort();
  demo.typing = [...typing].sort();
  $('chat-online').textContent = demo.online.length
    ? `online: ${demo.online.map((k) => (typing.has(k) ? `${k} (typing…)` : k)).join(', ')}`
    : 'online: nobody';
};
client.events('demo/presence', { room }).subscribe((e) => {
  if (e.type === 'reset') return; // a fresh state follows
  const d = e.data;
  if (d.type === 'state') metas.clear();
  for (const m of d.type === 'state' ? [] : d.leaves) for (const x of m.metas) metas.delete(x.ref);
  for (const m of d.type === 'state' ? d.members : d.joins) for (const x of m.metas) metas.set(x.ref, { key: m.key, meta: x.meta });
  renderOnline();
});

// Typing: on while keys are pressed, off 2 s after the last one (or with the line sent).
let typing = false;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let typingTimer;
/** @type {(on: boolean) => void} */
const setTyping = (on) => {
  clearTimeout(typingTimer);
  if (on) typingTimer = setTimeout(() => setTyping(false), 2000);
  if (on === typing) return;
  typing = on;
  chat.send({ typing: on }).catch(() => undefined); // presence only: a refusal is not worth showing
};
$('chat-text').addEventListener('input', () => setTyping(true));

// A line: sent at once (the field cleared); a refusal (e.g. validation) shows in the status, the text back in the field.
const chatHint = $('chat-status').textContent;
$('chat-form').addEventListener('submit', (event) => {
  event.preventDefault();
  clearTimeout(typingTimer);
  const text = $input('chat-text').value;
  const message = typing ? { text, typing: false } : { text };
  typing = false;
  $input('chat-text').value = '';
  chat.send(message).then(
    () => ($('chat-status').textContent = chatHint),
    (/** @type {StreamError} */ e) => {
      $('chat-status').textContent = `send failed: ${e.code}: ${e.message}`;
      if (!$input('chat-text').value) $input('chat-text').value = text;
    },
  );
});

// demo/ticker: a live chart, as wide as its panel
const points = /** @type {[number[], number[]]} */ ([[], []]);
const chartWidth = () => Math.max(200, $('ticker-chart').clientWidth);
const chart = new uPlot(
  { width: chartWidth(), height: 160, legend: { show: false }, scales: { x: { time: true } }, series: [{}, { stroke: '#33507a', width: 1.5 }] },
  points,
  $('ticker-chart'),
);
let frame = 0;
client.stream('demo/ticker').subscribe(({ t, v }) => {
  points[0].push(t / 1000);
  points[1].push(v);
  if (points[0].length > 200) {
    points[0].shift();
    points[1].shift();
  }
  demo.ticker++;
  $('ticker-value').textContent = v.toFixed(2);
  frame ||= requestAnimationFrame(() => ((frame = 0), chart.setData(points)));
});
new ResizeObserver(() => chart.setSize({ width: chartWidth(), height: 160 })).observe($('ticker-chart'));

// demo/complete: a POST stream, one subscription per question
/** @type {{ unsubscribe(): void } | undefined} */
let asking;
$('ask-form').addEventListener('submit', (event) => {
  event.preventDefault();
  asking?.unsubscribe();
  $('ask-reply').textContent = '';
  demo.reply = [];
  asking = client.stream('demo/complete', { prompt: $input('ask-prompt').value }).subscribe({
    next: ({ token, index }) => (demo.reply.push(index), ($('ask-reply').textContent += token)),
    error: (/** @type {StreamError} */ e) => ($('ask-reply').textContent += ` [${e.code}: ${e.message}]`),
  });
});

// demo/secure: { ok: true } once the guard accepted the credential
client.stream('demo/secure').subscribe({
  next: ({ ok }) => (demo.secure.push(ok), ($('secure').textContent = ok ? `accepted via ${client.transport}` : 'refused')),
  error: (/** @type {StreamError} */ e) => ($('secure').textContent = `${e.code}: ${e.message}`),
});
