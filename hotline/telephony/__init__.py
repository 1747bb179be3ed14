"""Telephony bridges: Asterisk (FastAGI/AMI) and Twilio (webhooks/REST)."""
