"""Automatic call distribution: queues, agents, routing, callbacks, outbound campaigns.

Modules:
- ports     what the bridges (Twilio, Asterisk) tell the ACD and what it asks of them
- config    config/acd/queues.yaml: queues, skills, hours, strategies, business categories
- router    the routing index (O(log n) per decision, no scans)
- service   `Acd`: the facade the bridges and the web layer call; wires the parts below
- queues    callers and queues: enqueue, position, hang-ups, max wait and overflow
- presence  agents and their states (the one place they change), and the router's index of agents
- offers    a call meets an agent: reserve, ring, answer, miss, end of talk
- callbacks queue callbacks and scheduled callbacks, their attempts and retries
- dialer    campaign calls dialled by an agent from a preview
- live      events to the event log and listeners; the supervisor's snapshot
- floor     what the parts share: config, clock, router, live calls, bridges, journal
- records   the in-memory agent and call records
- states    StrEnums: agent and call states, call kinds, offer outcomes, event kinds
- exceptions one class per refusal, each an `AcdError` with a kind (not found, conflict, ...)
- clock     injectable time (ManualClock in tests)
- journal   ordered write-behind of routing facts to the database
- models    routing event log, callbacks, campaigns (tables)
- campaigns create / approve / reject / preview / outcome / summary of outbound campaigns
- views     plain data for desktops and the supervisor (events, snapshot)

Figures for any period are computed from the event log by the `reports` package.
"""
