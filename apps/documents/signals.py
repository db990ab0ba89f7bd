"""Signals for higher layers (ingestion keeps the graph in step; retrieval drops caches).

Sent after the transaction commits, so listeners never see a change that is rolled back.
"""

from django.dispatch import Signal

# kwargs: schema_name, document_id, acl
document_acl_changed = Signal()
# kwargs: schema_name, document_id
document_deleted = Signal()
