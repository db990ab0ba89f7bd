"""Moving a tenant from one shard to another (`manage.py move_tenant`; docs/operations.md, "Moving a tenant").

`orchestrator` runs the steps and records each in the directory's catalogue; every step that reads
or writes a shard's data runs as a command of that shard (`shard_parts`, through
`manage.py tenant_move_part` started with the shard's own servers), so no process ever holds
connections to two shards' data.
"""
