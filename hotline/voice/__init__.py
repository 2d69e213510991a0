"""Voice orchestration: the only place that combines ivr, queue and callbacks for a call."""
