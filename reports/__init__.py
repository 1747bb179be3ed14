"""Reports: the weekly figures the bank asks for, recomputed from the event logs for any period.

- periods   day, ISO week, month or a custom [start, end) in the centre's time zone
- figures   calls, answer speed and rate, service level, agents, self-service, inquiry ranking
- erlang    Erlang C: agents a half hour needed for its target service level
- export    CSV and XLSX (Chinese column titles first)
- commands  `hotline report weekly --week 2026-W48 --format xlsx --out FILE`

Nothing here reads live state: `routing_events`, `call_events`, `ivr_steps` and the calls' own
facts give the same figures after a restart. The definitions are in `reports.figures` and
docs/reports.md.
"""
