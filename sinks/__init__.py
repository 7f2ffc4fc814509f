"""ClickHouse side: tables (sinks.tables), writer (sinks.clickhouse), analytics (sinks.queries)."""
