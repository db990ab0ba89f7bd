"""Rate limits for the API (roadmap 5.1): Redis token buckets per key or user, and per tenant."""
