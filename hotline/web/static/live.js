// Shared by the desktop and the supervisor page: JSON calls with the CSRF header, the live
// websocket with reconnect (the server sends a fresh state first on every connection), the page's
// words (the body's data-strings, in the user's language) and the centre's clock (data-zone).
"use strict";

const Hotline = (() => {
  const csrf = () => document.querySelector("meta[name=csrf-token]").content;
  const STRINGS = JSON.parse(document.body.dataset.strings || "{}");
  const ZONE = document.body.dataset.zone || "Asia/Shanghai";

  // t("sup.is_now", { name: "王芳", state: "空闲" }): the key itself when a word is missing
  function t(key, values) {
    const text = Object.prototype.hasOwnProperty.call(STRINGS, key) ? STRINGS[key] : key;
    return text.replace(/\{(\w+)\}/g, (whole, name) => (values && name in values ? String(values[name]) : whole));
  }

  // the shown name of a code (category, agent_state, away, queue, node, ...), the code when unknown
  function label(family, code) {
    if (!code) return "";
    const key = `${family}.${code}`;
    return Object.prototype.hasOwnProperty.call(STRINGS, key) ? STRINGS[key] : String(code).replace(/_/g, " ");
  }

  async function api(method, path, body) {
    const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (method !== "GET") {
      options.headers["X-CSRF-Token"] = csrf();
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body || {});
    }
    let response;
    try {
      response = await fetch(path, options);
    } catch (err) {
      throw new Error(t("net.unreachable"));
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error((data.error && data.error.message) || t("net.failed", { status: response.status }));
    }
    return data;
  }

  function connect(onMessage, onStatus) {
    let delay = 500;
    const open = () => {
      const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/live`);
      ws.onopen = () => { delay = 500; offline(false); onStatus(true); };
      ws.onmessage = (m) => onMessage(JSON.parse(m.data));
      ws.onclose = (e) => {
        if (e.code === 4401) {  // the session ended (logged out elsewhere, expired)
          location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
          return;
        }
        offline(true);
        onStatus(false);
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 10000);
      };
    };
    open();
  }

  function show(el, text) {
    el.textContent = text || "";
    el.hidden = !text;
  }

  function el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    return node;
  }

  // The same text as the server's pages print (hotline/web/i18n.py local_text), in the centre's
  // zone whatever zone the browser is in: "2026-12-02 09:54:11", form "time": "09:54:11", "minute": "2026-12-02 09:54".
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: ZONE, hourCycle: "h23", year: "numeric", month: "2-digit",
                                                    day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  function when(iso, form) {
    if (!iso) return "";
    const moment = new Date(iso);
    if (Number.isNaN(moment.getTime())) return "";
    const p = Object.fromEntries(parts.formatToParts(moment).map((x) => [x.type, x.value]));
    if (form === "time") return `${p.hour}:${p.minute}:${p.second}`;
    if (form === "minute") return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
  }

  // While /ws/live is down nothing on the page is current: say so, and grey what depends on it.
  function offline(down) {
    const banner = document.querySelector("[data-testid=offline-banner]");
    if (banner) banner.hidden = !down;
    document.body.classList.toggle("offline", down);
    document.querySelectorAll("[data-live-control] button, [data-live-control] select").forEach((c) => {
      c.disabled = down;
    });
  }

  return { api, connect, show, el, when, t, label, offline };
})();
