"""The directory's proxy: HAProxy configuration and maps written from the catalogue.

HAProxy (Debian's, 2.6) forwards HTTP, server-sent events and WebSockets to the shard that holds
the request's tenant, found in this order: the API key's public prefix (`X-API-Key: kp_<prefix>_...`,
keys.map), the bearer token's `tenant` claim (tenants.map; the shard verifies the token, the
directory only reads where it points), the host name (hosts.map). A request none of them routes is
a 404 from the directory itself; it never reaches a shard. A tenant placed on a shard that is not
registered is routed nowhere (404) rather than to a default. `/health/shards` is the directory's own
readiness: 503 while any shard has no live web process (HAProxy checks each every 2 s).

Written by `manage.py directory_sync`: maps and configuration go to temporary files, are checked by
`haproxy -c`, renamed into place, and the master process reloads them (connections in flight finish
on the old workers). A configuration HAProxy refuses is never installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

from django.conf import settings

from .catalogue import Route, Shard

NOT_ROUTED = '{"detail": "No tenant is served at this address."}'

_CONFIGURATION = """\
# Written by `manage.py directory_sync` from the directory's catalogue; edits are overwritten.
global
    master-worker
    maxconn 4096
    hard-stop-after 2m

defaults
    mode http
    option forwardfor
    timeout connect 3s
    timeout http-request 15s
    timeout client 120s
    timeout server 120s
    # WebSockets and server-sent events stay open while answers stream.
    timeout tunnel 1h

frontend directory
    bind 127.0.0.1:{port}
    # The directory's own readiness: 200 while every shard has a live web process, 503 otherwise.
    monitor-uri /health/shards
{monitor}    acl routed var(txn.route) -m found
    acl has_key req.hdr(x-api-key) -m found
    acl has_bearer http_auth_bearer -m found
    # kp_<prefix>_<secret>: the second field is the key's public prefix.
    http-request set-var(txn.route) req.hdr(x-api-key),field(2,_),lower,map({home}/keys.map) if has_key
    http-request set-var(txn.route) http_auth_bearer,jwt_payload_query('$.tenant'),map({home}/tenants.map) \
        if !routed has_bearer
    http-request set-var(txn.route) req.hdr(host),field(1,:),lower,map({home}/hosts.map) if !routed
    http-request set-header X-Portal-Directory-Route %[var(txn.route)]
    use_backend %[var(txn.route)] if routed
    default_backend not_routed

backend not_routed
    http-request return status 404 content-type application/json string '{not_routed}'
{backends}"""

_BACKEND = """
backend shard_{name}
    option httpchk
    http-check send meth GET uri /health/live
    # A shard has one web address: marking it down serves nobody, so only a shard that refuses
    # connections or stays silent for 10 s three times running is down. (With the 2 s default a
    # cold start under fifty streams took shard main out of the directory and its sockets got 503.)
    timeout check 10s
    server web {address} check inter 2s fall 3 rise 1
"""


def backend_name(shard: str) -> str:
    return f"shard_{shard}"


def maps_render(routes: list[Route], shards: list[Shard]) -> dict[str, str]:
    """The three map files: key prefix, tenant (bearer token claim) and host name -> backend."""
    registered = {shard.name for shard in shards}
    keys: list[str] = []
    hosts: list[str] = []
    tenants: dict[str, str] = {}
    for route in routes:
        if route.shard not in registered:
            continue
        line = f"{route.value} {backend_name(route.shard)}"
        (keys if route.kind == "key" else hosts).append(line)
        tenants[route.schema_name] = f"{route.schema_name} {backend_name(route.shard)}"
    return {
        "keys.map": "\n".join(keys) + "\n",
        "hosts.map": "\n".join(hosts) + "\n",
        "tenants.map": "\n".join(sorted(tenants.values())) + "\n",
    }


def configuration_render(*, port: int, home: Path, shards: list[Shard]) -> str:
    backends = "".join(_BACKEND.format(name=shard.name, address=shard.web_url.split("://", 1)[1]) for shard in shards)
    down = [f"{backend_name(shard.name)}_down" for shard in shards]
    monitor = "".join(
        f"    acl {backend_name(shard.name)}_down nbsrv({backend_name(shard.name)}) lt 1\n" for shard in shards
    )
    if down:
        monitor += f"    monitor fail if {' || '.join(down)}\n"
    return _CONFIGURATION.format(port=port, home=home, not_routed=NOT_ROUTED, backends=backends, monitor=monitor)


def directory_install(*, routes: list[Route], shards: list[Shard], home: Path | None = None) -> Path:
    """Write, check and load a new configuration; raises RuntimeError (nothing installed) when HAProxy refuses it."""
    home = home or Path(settings.DIRECTORY_HAPROXY_HOME)
    if not home.is_dir():
        raise RuntimeError(f"The directory's home {home} does not exist (DIRECTORY_HAPROXY_HOME).")
    port = int((home / "port").read_text())
    files = {**maps_render(routes, shards), "haproxy.cfg": configuration_render(port=port, home=home, shards=shards)}
    staged = {}
    for name, text in files.items():
        path = home / f".{name}.new"
        path.write_text(text)
        staged[name] = path
    # The staged configuration reads the maps by their final names: check it against staged copies.
    check_home = home / ".check"
    check_home.mkdir(exist_ok=True)
    for name, path in staged.items():
        shutil.copyfile(path, check_home / name)
    check = configuration_render(port=port, home=check_home, shards=shards)
    (check_home / "haproxy.cfg").write_text(check)
    result = subprocess.run(
        ["haproxy", "-c", "-q", "-f", str(check_home / "haproxy.cfg")], capture_output=True, text=True, timeout=30
    )
    if result.returncode != 0:
        raise RuntimeError(f"HAProxy refused the new configuration, the old one stays: {result.stderr.strip()[:500]}")
    for name, path in staged.items():
        os.replace(path, home / name)
    _reload(home)
    return home / "haproxy.cfg"


def _reload(home: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(10)
        client.connect(str(home / "master.sock"))
        client.sendall(b"reload\n")
        client.recv(4096)
