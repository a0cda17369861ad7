"""The local stack: moto server, tables, local token issuer, scheduler and queue worker."""
