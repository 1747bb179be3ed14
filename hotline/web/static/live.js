// Shared by the desktop and the supervisor page: JSON calls with the CSRF header, and the live
// websocket with reconnect (the server sends a fresh state first on every connection).
"use strict";

const Hotline = (() => {
  const csrf = () => document.querySelector("meta[name=csrf-token]").content;

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
      throw new Error("The server cannot be reached; check your connection and try again.");
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error((data.error && data.error.message) || `Request failed (${response.status})`);
    }
    return data;
  }

  function connect(onMessage, onStatus) {
    let delay = 500;
    const open = () => {
      const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/live`);
      ws.onopen = () => { delay = 500; onStatus(true); };
      ws.onmessage = (m) => onMessage(JSON.parse(m.data));
      ws.onclose = (e) => {
        if (e.code === 4401) {  // the session ended (logged out elsewhere, expired)
          location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
          return;
        }
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

  const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");

  return { api, connect, show, el, when };
})();
