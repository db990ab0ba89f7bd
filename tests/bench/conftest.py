"""The portal's committed tenant and its handbook documents, for `bench_streams` against a live server.

Imported from the portal's tests rather than copied: one definition of what a live portal serves.
"""

from tests.portal.conftest import handbook, site

__all__ = ["handbook", "site"]
