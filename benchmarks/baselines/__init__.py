"""The baselines the bridge is measured against, each run as `python -m benchmarks.baselines.X`.

They read the bridge's own environment variables through `consumer.settings.load_settings`
(bootstrap servers, topic, group, function, endpoint), so one environment starts any
contender, and they send the `legacy` payload the replaced system sent. They stop on SIGTERM.
"""
