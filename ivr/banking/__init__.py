"""Self-service banking behind the voice menu: the BankingBackend port and its SQL implementation."""
