"""What the bridge tells its operators: JSON logs, EMF metrics, counters."""
