"""The loyalty rules as plain, typed Python: no Kafka, Faust or ClickHouse here."""
