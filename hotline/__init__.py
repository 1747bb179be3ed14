"""Hotline: the telephony server of a bank's customer-service hotline."""

__version__ = "0.1.0"
