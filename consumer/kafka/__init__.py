"""The Kafka side: client arguments, SASL tokens, the start-up probe, outage summaries."""
