// The supervisor's live view: agents and queues from /ws/live snapshots, and forcing an agent's state.
"use strict";

(() => {
  const { api, connect, show, el, when, t, label } = Hotline;
  const tid = (name) => document.querySelector(`[data-testid="${name}"]`);
  const fail = (err) => { show(tid("sup-notice"), ""); show(tid("sup-error"), err.message || String(err)); };
  const ok = (text) => { show(tid("sup-error"), ""); show(tid("sup-notice"), text); };
  let lastQueues = [];
  let receivedAt = Date.now();

  const seconds = (s) => (s >= 60 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${Math.round(s)} s`);
  const clock = (iso) => when(iso, "time");  // the centre's zone, as the page was rendered

  function forceControl(agent) {
    const form = el("form", null, { class: "force", "data-testid": `force-${agent.agent_id}` });
    const select = el("select", null, { name: "target", "aria-label": t("sup.new_state_for", { name: agent.name }) });
    select.innerHTML = document.getElementById("force-options").innerHTML;
    form.append(select, el("button", t("sup.set"), { type: "submit", class: "secondary",
                                                    "aria-label": t("sup.set_state_of", { name: agent.name }) }));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const [state, reason] = select.value.split(":");
      try {
        const data = await api("POST", `/api/supervision/agents/${agent.agent_id}/state`, { state, reason });
        const a = data.agent;
        ok(a.pending ? t("sup.will_be", { name: a.name, state: label("agent_state", a.pending) })
          : t("sup.is_now", { name: a.name, state: stateText(a) }));
      } catch (err) { fail(err); }
    });
    return form;
  }

  function renderAgents(agents) {
    const body = tid("agents").querySelector("tbody");
    const focused = document.activeElement && document.activeElement.closest("form.force");
    const keep = focused ? focused.closest("tr").dataset.agentId : null;
    body.replaceChildren(...agents.map((a) => {
      if (keep === String(a.agent_id)) {  // do not pull the control away from a supervisor using it
        const old = focused.closest("tr");
        old.replaceChildren(...rowCells(a, focused));
        old.className = a.reason === "missed_calls" ? "missed" : "";
        return old;
      }
      const tr = el("tr", null, { "data-agent-id": a.agent_id });
      if (a.reason === "missed_calls") tr.className = "missed";
      tr.append(...rowCells(a, forceControl(a)));
      return tr;
    }));
  }

  const stateText = (a) => label("agent_state", a.state) + (a.reason ? ` (${label("away", a.reason)})` : "");

  function rowCells(a, control) {
    let state = stateText(a);
    if (a.pending) state += ` ${t("sup.after_call", { state: label("agent_state", a.pending) })}`;
    if (!a.reachable) state += ` · ${t("sup.phone_unreachable")}`;
    const stateCell = el("td", state, { class: "agent-state", "data-state": a.state });
    const action = el("td");
    action.append(control);
    return [el("td", a.name), stateCell, el("td", a.since ? clock(a.since) : "", { class: "since" }),
            el("td", label("queue", a.queue)), el("td", a.calls_today), el("td", a.missed_in_row), action];
  }

  function renderQueues(queues) {
    lastQueues = queues;
    receivedAt = Date.now();
    const body = tid("queues").querySelector("tbody");
    body.replaceChildren(...queues.map((q) => {
      const tr = el("tr", null, { "data-queue": q.name });
      tr.append(el("td", label("queue", q.name)), el("td", q.open ? t("sup.is_open") : t("sup.is_closed")),
                el("td", q.waiting, { class: "waiting" }),
                el("td", seconds(q.longest_wait_s), { class: "longest" }), el("td", q.callbacks),
                el("td", `${q.available_agents} / ${q.staffed_agents}`));
      return tr;
    }));
  }

  // waits keep growing between snapshots: tick them locally every second
  setInterval(() => {
    const extra = (Date.now() - receivedAt) / 1000;
    lastQueues.forEach((q) => {
      const cell = document.querySelector(`[data-testid="queues"] tr[data-queue="${CSS.escape(q.name)}"] .longest`);
      if (cell && q.waiting > 0) cell.textContent = seconds(q.longest_wait_s + extra);
    });
  }, 1000);

  const ACTIVITY_KEPT = 15;
  let agentNames = {};

  function logEvent(event) {
    if (event.kind === "position") return;
    const who = event.agent_id ? agentNames[event.agent_id] || `#${event.agent_id}` : "";
    const parts = [clock(event.at), label("event", event.kind), who, label("agent_state", event.state),
                   event.reason ? `(${label("away", event.reason)})` : "", event.queue ? `· ${label("queue", event.queue)}` : ""];
    const list = tid("activity");
    list.prepend(el("li", parts.filter(Boolean).join(" ")));
    while (list.children.length > ACTIVITY_KEPT) list.lastChild.remove();
  }

  connect((message) => {
    if (message.type === "event") {
      logEvent(message.event);
      return;
    }
    if (message.type !== "snapshot") return;
    agentNames = Object.fromEntries(message.snapshot.agents.map((a) => [a.agent_id, a.name]));
    renderAgents(message.snapshot.agents);
    renderQueues(message.snapshot.queues);
  }, (up) => { tid("live-status").textContent = up ? t("live.live") : t("live.reconnecting"); });
})();
