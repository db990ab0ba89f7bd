"""Job progress, for surfaces that push it to the uploader (the portal's channel layer)."""

from django.dispatch import Signal

# kwargs: schema_name, job_id, created_by_id (None: nobody to tell), status, stage, progress, error_message
job_progressed = Signal()
