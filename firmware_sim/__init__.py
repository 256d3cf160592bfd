"""Simulated smart meters with relays, speaking meter protocol v1 over MQTT."""
