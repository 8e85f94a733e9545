"""Outbound webhooks: an organisation's endpoints get the events they subscribe to, signed
the Standard Webhooks way, retried, logged and replayable (reporting delivers them: it hears
every event). domain: the rules; models: the tables and bodies; usecases: subscriptions and
the delivery log; delivery: the dispatcher sending them; api: the routes."""
