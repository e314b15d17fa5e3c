"""Taskstream tasks service: a user's tasks in MongoDB, published on Kafka through an outbox."""
