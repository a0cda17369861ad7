"""PynamoDB models, one module per aggregate. `ALL_MODELS` lists every table."""
