"""What every app's API shares: errors, parsing, fields, pagination, schema, idempotency, batches."""
