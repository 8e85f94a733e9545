"""Event delivery: outbox, inbox, the bus (Kafka or embedded) and the consumer loop."""
