"""Automatic call distribution: queues, agents, routing, callbacks, outbound campaigns.

Modules:
- ports     what the bridges (Twilio, Asterisk) tell the ACD and what it asks of them
- config    config/acd/queues.yaml: queues, skills, hours, strategies, business categories
- router    the routing index (O(log n) per decision, no scans)
- service   `Acd`: agent states, routing, timers, callbacks, campaign dials, live events
- clock     injectable time (ManualClock in tests)
- journal   ordered write-behind of routing facts to the database
- models    routing event log, callbacks, campaigns (tables)
- campaigns create / approve / reject / preview / outcome / summary of outbound campaigns
- stats     figures for any period, replayed from the event log
- views     plain data for desktops and the supervisor (events, snapshot)
"""
