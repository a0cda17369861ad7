"""pydantic request and response schemas; the OpenAPI document is generated from them."""
