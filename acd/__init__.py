"""Automatic call distribution: queues, agents, routing, callbacks, outbound campaigns."""
