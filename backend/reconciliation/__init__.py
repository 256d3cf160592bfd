"""Conservation per metering point: register delta = session energy + unattributed energy, proven and billed."""
