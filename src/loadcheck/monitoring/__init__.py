"""Watching what the served pipeline decides: drift of the served features against the fitting
data's (:mod:`loadcheck.monitoring.drift`) and signed webhooks of verdicts
(:mod:`loadcheck.monitoring.webhooks`)."""
