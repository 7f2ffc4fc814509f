"""Kafka-facing plumbing of the loyalty engine: embedded broker, topic catalogue, workers."""
