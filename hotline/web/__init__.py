"""The web layer: pages, JSON API and websockets for agents, supervisors, QA staff and admins."""
