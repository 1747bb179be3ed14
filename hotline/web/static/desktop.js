// The agent desktop: state buttons, the incoming-call pop, wrap-up, callbacks and campaign previews.
"use strict";

(() => {
  const { api, connect, show, el, when, t, label } = Hotline;
  const $ = (sel) => document.querySelector(sel);
  const tid = (name) => $(`[data-testid="${name}"]`);
  const desk = { agent: null, callId: null, ringing: false, contactId: null };

  const fail = (err) => { show(tid("desk-notice"), ""); show(tid("desk-error"), err.message || String(err)); };
  const ok = (text) => { show(tid("desk-error"), ""); show(tid("desk-notice"), text); };

  function renderAgent(agent) {
    desk.agent = agent;
    const state = agent ? agent.state : "logged_out";
    const name = label("agent_state", state);
    const stateEl = tid("my-state");
    stateEl.dataset.state = state;
    stateEl.textContent = agent && agent.reason ? `${name} (${label("away", agent.reason)})` : name;
    const details = [];
    if (agent && agent.state === "away" && agent.reason === "missed_calls") details.push(t("state.missed_hint"));
    if (agent && agent.pending) details.push(t("state.after_call", { state: label("agent_state", agent.pending) }));
    if (agent) details.push(t("state.calls_today", { n: agent.calls_today }));
    tid("my-state-detail").textContent = details.join(" · ");
    $("[data-action=ready]").hidden = state !== "wrap_up";
    if (state === "wrap_up" && desk.callId) tid("wrapup").hidden = false;
    // a ringing call that was withdrawn (caller hung up, offer moved on) leaves nothing to show
    if (desk.ringing && !["reserved", "on_call"].includes(state)) {
      desk.ringing = false;
      tid("call-card").hidden = true;
      desk.callId = null;
    }
  }

  function renderCard(card) {
    tid("call-details").hidden = false;
    const customer = card.customer;
    tid("customer-name").textContent = customer
      ? `${customer.name}${customer.name_en && customer.name_en !== customer.name ? ` (${customer.name_en})` : ""}`
      : t("call.unknown_caller");
    tid("customer-segment").textContent = customer ? customer.segment : t("call.not_identified");
    tid("caller-number").textContent = card.number || t("call.number_withheld");
    const verification = tid("verification");
    verification.textContent = card.verified ? t("call.verified") : t("call.not_verified");
    verification.className = card.verified ? "verified" : "unverified";
    tid("business-category").textContent = card.business_category ? label("category", card.business_category) : t("call.not_chosen");
    tid("business-category").dataset.code = card.business_category || "";
    tid("call-queue").textContent = label("queue", card.queue);
    const path = tid("ivr-path");
    path.replaceChildren(...card.ivr_path.map((step) => {
      const li = el("li", `${label("node", step.node)}: ${stepText(step)}`, { "data-node": step.node });
      if (step.to_agent) {
        li.className = "to-agent";
        li.append(el("span", step.kind === "key" ? t("call.asked_agent") : t("call.handed_agent")));
      }
      return li;
    }));
    if (!card.ivr_path.length) path.replaceChildren(el("li", t("call.no_ivr")));
    const previous = tid("previous-calls").querySelector("tbody");
    previous.replaceChildren(...card.previous_calls.map((p) => {
      const tr = el("tr", null, { "data-call-id": p.call_id });
      [when(p.started_at), label("category", p.business_category), label("category", p.wrapup_code), p.notes]
        .forEach((v) => tr.append(el("td", v)));
      return tr;
    }));
    if (!card.previous_calls.length) {
      const tr = el("tr");
      tr.append(el("td", t("call.no_previous"), { colspan: "4" }));
      previous.replaceChildren(tr);
    }
    const tickets = tid("open-tickets");
    tickets.replaceChildren(...card.open_tickets.map((k) => el("li", k.title || k.id)));
    if (!card.open_tickets.length) tickets.replaceChildren(el("li", t("call.no_tickets"), { class: "muted" }));
    const form = tid("wrapup-form");
    if (card.wrapup_code) form.wrapup_code.value = card.wrapup_code;
    else if (card.business_category) form.wrapup_code.value = card.business_category;
    if (card.notes) form.notes.value = card.notes;
  }

  // what the caller did at one menu: "pressed 2", "self-service balance"; secrets stay masked
  function stepText(step) {
    let text;
    if (step.kind === "key") text = /^\*+$/.test(step.detail) ? t("step.key.secret") : t("step.key", { detail: step.detail });
    else if (step.kind === "operation") text = t("step.operation", { detail: label("op", step.detail) });
    else text = label("step", step.kind);
    return step.outcome ? `${text} → ${label("ivr_outcome", step.outcome)}` : text;
  }

  async function pop(callId, heading, purpose) {
    const cardEl = tid("call-card");
    const fresh = desk.callId !== callId;
    desk.callId = callId;
    cardEl.hidden = false;
    cardEl.dataset.callId = callId;
    tid("call-heading").textContent = heading;
    cardEl.classList.toggle("ringing", desk.ringing);
    show(tid("call-purpose"), purpose ? (purpose === "campaign" ? t("call.campaign") : t("call.callback")) : "");
    if (!fresh) return;
    tid("wrapup").hidden = true;
    tid("wrapup-form").reset();
    try {
      renderCard(await api("GET", `/api/desktop/calls/${encodeURIComponent(callId)}`));
    } catch (err) {
      tid("call-details").hidden = true;
      if (!purpose) fail(err);
    }
  }

  function onEvent(event) {
    const purpose = event.detail && event.detail.purpose;
    switch (event.kind) {
      case "offered":
        desk.ringing = true;
        pop(event.call_id, purpose ? t("call.outbound_answer") : t("call.incoming"), purpose);
        break;
      case "answered":
        desk.ringing = false;
        pop(event.call_id, t("call.on_call"), purpose);
        break;
      case "missed":
        desk.ringing = false;
        tid("call-card").hidden = true;
        desk.callId = null;
        fail(new Error(t("missed.call")));
        break;
      case "transferred":
      case "ended":
      case "wrap_up":
        if (event.call_id === desk.callId) {
          tid("call-heading").textContent = t("call.ended");
          tid("wrapup").hidden = false;
        }
        break;
      case "callback_scheduled":
        loadCallbacks();
        break;
      default:
        break;
    }
  }

  async function setState(state, reason) {
    try {
      const data = await api("POST", "/api/desktop/state", { state, reason });
      renderAgent(data.agent);
    } catch (err) { fail(err); }
  }

  async function loadCallbacks() {
    try {
      renderCallbacks((await api("GET", "/api/desktop/callbacks")).items);
    } catch (err) { fail(err); }
  }

  function renderCallbacks(items) {
    const list = tid("callbacks");
    list.replaceChildren(...items.map((c) => el("li", `${when(c.due_at, "minute")} · ${c.number}${c.note ? ` · ${c.note}` : ""} (${label("callback_status", c.status)})`)));
    if (!items.length) list.replaceChildren(el("li", t("callbacks.none"), { class: "muted" }));
  }

  function renderPreview(preview) {
    desk.contactId = preview ? preview.contact_id : null;
    tid("preview").hidden = !preview;
    tid("outcome-form").hidden = true;
    $("[data-action=dial]").hidden = false;
    $("[data-action=skip]").hidden = false;
    if (!preview) return;
    tid("preview-customer").textContent = preview.customer_name;
    tid("preview-number").textContent = preview.number;
    tid("preview-attempt").textContent = t("preview.attempt", { n: preview.attempt_no });
    tid("preview-campaign").textContent = preview.campaign;
    tid("preview-department").textContent = preview.department;
    tid("preview-reason").textContent = preview.reason;
    tid("preview-script").textContent = preview.script;
    tid("preview-previous").replaceChildren(...preview.previous.map(
      (p) => el("li", `${t("preview.attempt_line", { n: p.attempt_no, outcome: p.outcome ? label("outcome", p.outcome) : t("preview.no_result") })}${p.notes ? ` · ${p.notes}` : ""}`)));
  }

  document.addEventListener("click", async (e) => {
    const action = e.target.dataset && e.target.dataset.action;
    if (!action) return;
    if (action === "available" || action === "logged_out" || action === "ready") {
      await setState(action);
    } else if (action === "next-preview") {
      try {
        const data = await api("GET", "/api/desktop/preview");
        renderPreview(data.preview);
        show(tid("preview-message"), data.preview ? "" : data.message);
      } catch (err) { fail(err); }
    } else if (action === "dial" && desk.contactId) {
      try {
        await api("POST", `/api/desktop/preview/${desk.contactId}/dial`);
        $("[data-action=dial]").hidden = true;
        $("[data-action=skip]").hidden = true;
        tid("outcome-form").hidden = false;
        ok(t("preview.dialling"));
      } catch (err) { fail(err); }
    } else if (action === "skip" && desk.contactId) {
      try {
        await api("POST", `/api/desktop/preview/${desk.contactId}/skip`);
        renderPreview(null);
        ok(t("preview.skipped"));
      } catch (err) { fail(err); }
    }
  });

  tid("away-form").addEventListener("submit", (e) => {
    e.preventDefault();
    setState("away", e.target.reason.value);
  });

  tid("wrapup-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.target;
    if (!desk.callId) { fail(new Error(t("wrapup.no_call"))); return; }
    try {
      await api("POST", `/api/desktop/calls/${encodeURIComponent(desk.callId)}/wrapup`,
                { wrapup_code: form.wrapup_code.value, notes: form.notes.value, ready: form.ready.checked });
      ok(t("wrapup.saved"));
      tid("wrapup").hidden = true;
      tid("call-card").hidden = true;
      desk.callId = null;
      form.reset();
    } catch (err) { fail(err); }
  });

  tid("callback-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.target;
    // the time as typed, in the centre's zone (the label says which): the server reads it there
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(form.due.value)) { fail(new Error(t("callbacks.choose_time"))); return; }
    try {
      const body = { number: form.number.value, due: form.due.value, note: form.note.value };
      if (form.customer_id.value) body.customer_id = Number(form.customer_id.value);
      await api("POST", "/api/desktop/callbacks", body);
      ok(t("callbacks.scheduled"));
      form.reset();
      loadCallbacks();
    } catch (err) { fail(err); }
  });

  tid("outcome-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.target;
    try {
      const data = await api("POST", `/api/desktop/preview/${desk.contactId}/outcome`,
                             { outcome: form.outcome.value, notes: form.notes.value });
      ok(t("preview.recorded", { status: label("contact", data.status) }));
      renderPreview(null);
      form.reset();
    } catch (err) { fail(err); }
  });

  connect((message) => {
    if (message.type === "self") renderAgent(message.agent);
    else if (message.type === "event") onEvent(message.event);
  }, (up) => {
    tid("live-status").textContent = up ? t("live.live") : t("live.reconnecting");
    if (!up) {  // the last state we heard of is no longer known to be true: never show a stale "Available"
      const stateEl = tid("my-state");
      stateEl.dataset.state = "offline";
      stateEl.textContent = t("live.offline_state");
    }
  });

  api("GET", "/api/desktop").then((data) => {
    if (data.call) {
      desk.ringing = data.agent && data.agent.state === "reserved";
      pop(data.call.call_id, desk.ringing ? t("call.incoming") : t("call.on_call"));
    }
    renderAgent(data.agent);
    renderCallbacks(data.callbacks);
  }).catch(fail);
})();
