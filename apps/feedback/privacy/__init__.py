"""Retention and erasure (roadmap 9.4, GDPR): what is kept how long, and forgetting a person.

They live in the feedback app because they span query history (answers), feedback and the audit
trail; feedback is the highest of those layers, so it may import all of them.
"""
