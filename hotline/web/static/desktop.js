// The agent desktop: state buttons, the incoming-call pop, wrap-up, callbacks and campaign previews.
"use strict";

(() => {
  const { api, connect, show, el, when } = Hotline;
  const $ = (sel) => document.querySelector(sel);
  const tid = (name) => $(`[data-testid="${name}"]`);
  const desk = { agent: null, callId: null, ringing: false, contactId: null };

  const fail = (err) => { show(tid("desk-notice"), ""); show(tid("desk-error"), err.message || String(err)); };
  const ok = (text) => { show(tid("desk-error"), ""); show(tid("desk-notice"), text); };

  const STATE_LABELS = { logged_out: "Logged out", available: "Available", reserved: "Ringing",
                         on_call: "On a call", wrap_up: "Wrap-up", away: "Away" };

  function renderAgent(agent) {
    desk.agent = agent;
    const state = agent ? agent.state : "logged_out";
    const label = STATE_LABELS[state] || state;
    const stateEl = tid("my-state");
    stateEl.dataset.state = state;
    stateEl.textContent = agent && agent.reason ? `${label} (${agent.reason.replace("_", " ")})` : label;
    const details = [];
    if (agent && agent.state === "away" && agent.reason === "missed_calls") {
      details.push("You were set away after missing calls. Press Available when you are back.");
    }
    if (agent && agent.pending) details.push(`After this call: ${agent.pending.replace("_", " ")}`);
    if (agent) details.push(`Calls today: ${agent.calls_today}`);
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
      : "Unknown caller";
    tid("customer-segment").textContent = customer ? customer.segment : "not identified";
    tid("caller-number").textContent = card.number || "number withheld";
    const verification = tid("verification");
    verification.textContent = card.verified ? "verified in the IVR" : "NOT verified";
    verification.className = card.verified ? "verified" : "unverified";
    tid("business-category").textContent = (card.business_category || "not chosen").replace("_", " ");
    tid("call-queue").textContent = card.queue || "";
    const path = tid("ivr-path");
    path.replaceChildren(...card.ivr_path.map((step) => {
      const text = `${step.node}: ${step.kind}${step.detail ? ` ${step.detail}` : ""}${step.outcome ? ` → ${step.outcome}` : ""}`;
      const li = el("li", text);
      if (step.to_agent) {
        li.className = "to-agent";
        li.append(el("span", step.kind === "key" ? " ← asked for an agent here" : " ← handed to an agent"));
      }
      return li;
    }));
    if (!card.ivr_path.length) path.replaceChildren(el("li", "no IVR steps (direct or outbound call)"));
    const previous = tid("previous-calls").querySelector("tbody");
    previous.replaceChildren(...card.previous_calls.map((p) => {
      const tr = el("tr");
      [when(p.started_at), p.business_category || "", p.wrapup_code || "", p.notes].forEach((v) => tr.append(el("td", v)));
      return tr;
    }));
    if (!card.previous_calls.length) {
      const tr = el("tr");
      tr.append(el("td", "No previous calls", { colspan: "4" }));
      previous.replaceChildren(tr);
    }
    const tickets = tid("open-tickets");
    tickets.replaceChildren(...card.open_tickets.map((t) => el("li", t.title || t.id)));
    if (!card.open_tickets.length) tickets.replaceChildren(el("li", "No open tickets", { class: "muted" }));
    const form = tid("wrapup-form");
    if (card.wrapup_code) form.wrapup_code.value = card.wrapup_code;
    else if (card.business_category) form.wrapup_code.value = card.business_category;
    if (card.notes) form.notes.value = card.notes;
  }

  async function pop(callId, heading, purpose) {
    const cardEl = tid("call-card");
    const fresh = desk.callId !== callId;
    desk.callId = callId;
    cardEl.hidden = false;
    cardEl.dataset.callId = callId;
    tid("call-heading").textContent = heading;
    cardEl.classList.toggle("ringing", desk.ringing);
    show(tid("call-purpose"), purpose ? (purpose === "campaign" ? "Campaign call" : "Callback") : "");
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
        pop(event.call_id, purpose ? "Outbound call: answer your phone" : "Incoming call", purpose);
        break;
      case "answered":
        desk.ringing = false;
        pop(event.call_id, "On call", purpose);
        break;
      case "missed":
        desk.ringing = false;
        tid("call-card").hidden = true;
        desk.callId = null;
        fail(new Error("You missed a call."));
        break;
      case "transferred":
      case "ended":
      case "wrap_up":
        if (event.call_id === desk.callId) {
          tid("call-heading").textContent = "Call ended";
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
    list.replaceChildren(...items.map((c) => el("li", `${when(c.due_at)} · ${c.number}${c.note ? ` · ${c.note}` : ""} (${c.status})`)));
    if (!items.length) list.replaceChildren(el("li", "No callbacks scheduled", { class: "muted" }));
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
    tid("preview-attempt").textContent = `${preview.attempt_no} of 3`;
    tid("preview-campaign").textContent = preview.campaign;
    tid("preview-department").textContent = preview.department;
    tid("preview-reason").textContent = preview.reason;
    tid("preview-script").textContent = preview.script;
    tid("preview-previous").replaceChildren(...preview.previous.map(
      (p) => el("li", `Attempt ${p.attempt_no}: ${p.outcome || "no result"}${p.notes ? ` · ${p.notes}` : ""}`)));
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
        ok("Dialling: your phone rings first, then the customer's.");
      } catch (err) { fail(err); }
    } else if (action === "skip" && desk.contactId) {
      try {
        await api("POST", `/api/desktop/preview/${desk.contactId}/skip`);
        renderPreview(null);
        ok("Customer skipped; no attempt was used.");
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
    if (!desk.callId) { fail(new Error("There is no call to wrap up.")); return; }
    try {
      await api("POST", `/api/desktop/calls/${encodeURIComponent(desk.callId)}/wrapup`,
                { wrapup_code: form.wrapup_code.value, notes: form.notes.value, ready: form.ready.checked });
      ok("Wrap-up saved.");
      tid("wrapup").hidden = true;
      tid("call-card").hidden = true;
      desk.callId = null;
      form.reset();
    } catch (err) { fail(err); }
  });

  tid("callback-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.target;
    const due = new Date(form.due.value);
    if (Number.isNaN(due.getTime())) { fail(new Error("Choose when to call back.")); return; }
    try {
      const body = { number: form.number.value, due: due.toISOString(), note: form.note.value };
      if (form.customer_id.value) body.customer_id = Number(form.customer_id.value);
      await api("POST", "/api/desktop/callbacks", body);
      ok("Callback scheduled.");
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
      ok(`Outcome recorded; the customer is now ${data.status.replace("_", " ")}.`);
      renderPreview(null);
      form.reset();
    } catch (err) { fail(err); }
  });

  connect((message) => {
    if (message.type === "self") renderAgent(message.agent);
    else if (message.type === "event") onEvent(message.event);
  }, (up) => { tid("live-status").textContent = up ? "live" : "reconnecting…"; });

  api("GET", "/api/desktop").then((data) => {
    if (data.call) {
      desk.ringing = data.agent && data.agent.state === "reserved";
      pop(data.call.call_id, desk.ringing ? "Incoming call" : "On call");
    }
    renderAgent(data.agent);
    renderCallbacks(data.callbacks);
  }).catch(fail);
})();
