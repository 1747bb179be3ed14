"""Voice menus and the self-service banking behind them. Transport-free: events in, actions out.

- events.py / actions.py: the contract with the bridges.
- service.py: `IvrService`, what the bridges call (start_call, handle, hangup, language, prompts).
- engine.py: the pure interpreter `Engine.step(session, event) -> actions`; session.py its state.
- menus.py / prompts.py: config/ivr/menus.yaml and prompts.yaml, loaded and cross-checked.
- speech.py: numbers, amounts and references in words and as Asterisk sound files.
- banking/: the BankingBackend port, its SQL implementation and the PIN strength rules.
"""
