/* global document, location, performance, EventSource, URLSearchParams, setTimeout, clearTimeout, setInterval */
// The door screen's script: plain JavaScript, no framework, nothing to build; it runs for months in a kiosk.
// It listens to /door-screen/events (server-sent events: the whole screen in each `state` message, again every 15 s)
// and reconnects by itself when the gateway restarts. The clock is the server's time and the branch's zone, moved on
// by this machine's monotonic timer between messages: a Pi whose own clock or zone is wrong still shows the branch's.
'use strict';

(() => {
  const BAND_WORDS = { welcome: 'Come in', refused: 'No entry', prompt: 'Please' };
  /** A stream that said nothing for this long is dead (a heartbeat comes every 15 s): open a new one. */
  const SILENCE_MS = 45_000;
  /** After a refusal (401, 503) EventSource gives up; this page never does. */
  const RETRY_MS = 10_000;

  const page = new URLSearchParams(location.search);
  const query = new URLSearchParams();
  for (const name of ['reader', 'token']) {
    const value = page.get(name);
    if (value !== null && value !== '') query.set(name, value);
  }
  const suffix = query.toString() === '' ? '' : `?${query.toString()}`;

  const $ = (id) => document.getElementById(id);
  const screen = document.querySelector('.screen');
  const el = { mode: $('mode'), clock: $('clock'), band: $('band'), word: $('word'), title: $('title'), detail: $('detail'), connection: $('connection') };

  let serverAt = null;
  let receivedAt = 0;
  let timezone = 'UTC';
  let clockFormat = null;
  let lastText = '';
  let source = null;
  let silence = null;

  function formatFor(zone) {
    try {
      return new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    } catch {
      return new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    }
  }

  function tick() {
    if (serverAt === null) return;
    const now = new Date(serverAt + (performance.now() - receivedAt));
    const text = clockFormat.format(now);
    if (el.clock.textContent !== text) {
      el.clock.textContent = text;
      el.clock.dateTime = now.toISOString();
    }
  }

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  function render(state) {
    serverAt = Date.parse(state.at);
    receivedAt = performance.now();
    if (state.timezone !== timezone || clockFormat === null) {
      timezone = state.timezone;
      clockFormat = formatFor(timezone);
    }
    if (typeof state.lang === 'string' && document.documentElement.lang !== state.lang) document.documentElement.lang = state.lang;
    tick();

    const modeLine = state.mode.next === undefined ? state.mode.words : `${state.mode.words} ${state.mode.next}`;
    const message = state.message;
    // Unchanged words are not written again: the live region would read them out again at every heartbeat.
    const text = JSON.stringify([modeLine, message]);
    if (text === lastText) return;
    lastText = text;
    if (message === null) {
      screen.dataset.tone = 'idle';
      el.band.hidden = true;
      setText(el.mode, '');
      setText(el.title, state.mode.words);
      setText(el.detail, state.mode.next ?? '');
      return;
    }
    screen.dataset.tone = message.tone;
    el.band.hidden = false;
    setText(el.word, state.pinPending ? 'Keypad' : (BAND_WORDS[message.tone] ?? ''));
    setText(el.mode, modeLine);
    setText(el.title, message.title);
    setText(el.detail, message.detail ?? '');
  }

  function watchSilence() {
    clearTimeout(silence);
    silence = setTimeout(() => reconnect(0), SILENCE_MS);
  }

  function reconnect(delay) {
    if (source !== null) source.close();
    source = null;
    clearTimeout(silence);
    el.connection.hidden = false;
    setTimeout(connect, delay);
  }

  function connect() {
    source = new EventSource(`/door-screen/events${suffix}`);
    watchSilence();
    source.addEventListener('open', () => {
      el.connection.hidden = true;
    });
    source.addEventListener('state', (event) => {
      el.connection.hidden = true;
      watchSilence();
      try {
        render(JSON.parse(event.data));
      } catch {
        // A malformed message changes nothing on the screen; the next one will do.
      }
    });
    source.addEventListener('error', () => {
      el.connection.hidden = false;
      // CONNECTING: the browser retries by itself. CLOSED: the server refused; try again later.
      if (source !== null && source.readyState === EventSource.CLOSED) reconnect(RETRY_MS);
    });
  }

  setInterval(tick, 1000);
  connect();
})();
