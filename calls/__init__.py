"""The call record: one owner for calls, their legs, IVR path, recordings and the facts about them.

Both bridges and the IVR report what happened (`calls.record.CallRecord`); nothing else writes these
tables. Every fact is also kept as a `call_events` row that statistics can replay.
"""
