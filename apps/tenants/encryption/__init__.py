"""Per-tenant encryption at rest: envelope keys, encrypted model fields, rotation, crypto-shredding.

Each tenant has data keys (`TenantDataKey`, public schema): random AES-256 keys, stored only
wrapped by the key-encryption key (KEK) that settings choose (`kek.py`: a local secret, or a KMS
adapter). Document bytes and chunk text are stored as ciphertext under the tenant's current data
key (`fields.py`); every value names the key that sealed it, so `rotate_tenant_key` can re-seal
them in resumable batches (`rotation.py`). Deleting a tenant deletes its data keys: whatever copy
of its rows is left (a tenant backup, a dump) cannot be read any more. docs/compliance.md says what
stays in the clear (embeddings, keyword postings, the graph) and why.
"""
