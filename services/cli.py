"""The `binome` command: run the services, mint development tokens, write migrations.

binome serve                              embedded: all five services on :8000, SQLite, local bus
                                          (their background loops in a second process, or
                                          with --one-process in the API's)
binome serve --service matching --port 8002   one service (distributed mode, env settings)
binome serve --service matching --workers 2   the same in two processes on one port
binome proxy-config --route SVC=URL ... --out DIR
                                          nginx's configuration for the services' processes
binome wait [--url URL] [--settled]       until the API is ready (and every event applied)
binome token --org acme --role admin      a development JWT signed with BINOME_JWT_SECRET
binome makemigration enrollment -m "..."  autogenerate an Alembic revision for one service
binome dlq list [--group reporting] [--type T] [--since ISO] [--until ISO] [--json]
binome dlq show REF|EVENT_ID              one dead letter whole (REF is group/partition/offset)
binome dlq replay [filters] [--event-id ID ...] [--dry-run]
                                          re-inject dead letters into their original topics
binome reporting rebuild [--from archive|log]
                                          reporting's projection made anew from the events it
                                          applied (its archive; or the broker's log), the old
                                          one serving until the switch
binome events purge                       forget now what the event log's retentions let go
binome gdpr export --org acme EMPLOYEE_ID [--out FILE]
                                          everything the five services hold on one employee
The dlq, reporting, events and gdpr commands use the same BINOME_* settings as the services (bus,
bootstrap, prefix, database).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from services import SERVICE_NAMES
from shared.settings import BusKind, Settings
from shared.tokens import Role, mint_token

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


class CliError(Exception):
    """A mistake of the caller's: said in one line, exit status 2, no traceback."""


def _settings_error(exc: ValidationError) -> str:
    """Each bad setting named as the variable a person sets."""
    parts = []
    for error in exc.errors():
        loc = "_".join(str(x) for x in error["loc"])
        name = f"BINOME_{loc.upper()}: " if loc else ""
        given = error.get("input")
        shown = f" (got {given!r})" if isinstance(given, str | int | float) else ""
        parts.append(f"{name}{error['msg'].removeprefix('Value error, ')}{shown}")
    return "; ".join(parts)


def _lock_data_dir(data_dir: Path) -> IO[str]:
    """One embedded server per data folder: its SQLite files and bus log are the server's
    alone (a second one would consume the same log). Held until the process ends."""
    import fcntl

    data_dir.mkdir(parents=True, exist_ok=True)
    handle = (data_dir / ".binome.lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        raise CliError(
            f"the data folder {data_dir} is in use by {holder}: stop it, or give this server "
            "its own folder (BINOME_DATA_DIR)"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"binome serve (pid {os.getpid()})\n")
    handle.flush()
    return handle


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from services import load, load_all
    from shared.app import build_app, build_loops_app
    from shared.companion import Companion, socket_paths

    settings = Settings()
    # The public development secret serves a local development setup only: loopback and the
    # embedded bus (a Kafka bus means a deployment, reachable from other machines).
    if settings.uses_public_secret and (
        not _loopback(args.host) or settings.bus is not BusKind.local
    ):
        where = args.host if not _loopback(args.host) else f"{args.host} with the Kafka bus"
        sys.exit(
            f"refusing to serve on {where} with the public development JWT secret: anyone "
            "could mint an admin token. Set BINOME_JWT_SECRET to 32+ random bytes (e.g. "
            "`openssl rand -base64 48`) or BINOME_JWT_JWKS_URL."
        )
    name = args.service or ("binome-loops" if args.loops_of is not None else "binome")
    _logs(name, settings, args, embedded=not args.service)
    if args.workers < 1:
        raise CliError(f"--workers {args.workers}: one process or more")
    if args.workers > 1:
        if settings.bus is BusKind.local or not args.service:
            raise CliError(
                "--workers needs one --service on the Kafka bus: the embedded mode is one "
                "process (its event log and SQLite files are not shared)"
            )
        # uvicorn's supervisor: N processes on one socket, a dead one replaced. Each builds
        # its app from the environment (worker_app).
        os.environ[_WORKER_SERVICE] = args.service
        os.environ[_WORKER_LOG_LEVEL] = args.log_level
        uvicorn.run(
            "services.cli:worker_app",
            factory=True,
            workers=args.workers,
            host=args.host,
            port=args.port,
            log_level=args.log_level,
            log_config=None,
        )
        return
    if args.loops_of is not None:  # the loops process: its parent holds the data folder
        _, path = socket_paths(settings.data_dir)
        app = build_loops_app(load_all(), settings, name="binome-loops", parent=args.loops_of)
        uvicorn.run(app, uds=str(path), log_level=args.log_level, log_config=None, access_log=False)
        return
    if settings.bus is BusKind.local:
        args.lock = _lock_data_dir(settings.data_dir)
    if args.service:
        app = build_app([load(args.service)], settings, name=args.service)
    elif args.one_process or settings.bus is not BusKind.local:
        app = build_app(load_all(), settings, name="binome")
    else:
        try:
            companion = Companion(
                [sys.executable, "-m", "services.cli", "serve", "--log-level", args.log_level]
                + ["--loops-of"],
                settings.data_dir,
                keep_open=[args.lock.fileno()],
            )
        except ValueError as exc:
            raise CliError(str(exc)) from None
        app = build_app(load_all(), settings, name="binome", companion=companion)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, log_config=None)


# How `binome serve --workers N` tells its worker processes what to serve (not BINOME_
# settings: those are the operator's).
_WORKER_SERVICE, _WORKER_LOG_LEVEL = "_BINOME_WORKER_SERVICE", "_BINOME_WORKER_LOG_LEVEL"


def worker_app() -> Any:
    """The app of one of `binome serve --workers N`'s processes (uvicorn's factory)."""
    from services import load
    from shared.app import build_app

    service = os.environ[_WORKER_SERVICE]
    settings = Settings()
    level = argparse.Namespace(log_level=os.environ[_WORKER_LOG_LEVEL])
    _logs(service, settings, level, embedded=False)
    return build_app([load(service)], settings, name=service)


def _logs(name: str, settings: Settings, args: argparse.Namespace, *, embedded: bool) -> None:
    from shared import logs
    from shared.settings import LogFormat

    kind = settings.log_format
    if kind is LogFormat.auto:
        kind = LogFormat.text if embedded else LogFormat.json
    logs.configure(name, kind.value, level=args.log_level)


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: it may resolve anywhere
        return False


def _proxy_config(args: argparse.Namespace) -> None:
    from services.proxy import Layout, write

    routes = {}
    for item in args.route:
        service, _, url = item.partition("=")
        if service not in SERVICE_NAMES or not url.startswith("http://"):
            raise CliError(
                f"--route {item!r}: expected SERVICE=http://host:port, SERVICE one of "
                + ", ".join(SERVICE_NAMES)
            )
        routes[service] = url
    missing = [s for s in SERVICE_NAMES if s not in routes]
    if missing:
        raise CliError(f"no --route for {', '.join(missing)}: every service needs its address")
    out = Path(args.out)
    root = args.root or str(out.resolve())
    try:
        files = write(out, routes, Layout(root=root, listen=args.listen, user=args.user))
    except (ValueError, OSError) as exc:
        raise CliError(str(exc)) from None
    for f in files:
        print(f)


def _status(url: str, path: str) -> tuple[int, Any]:
    import httpx

    r = httpx.get(f"{url.rstrip('/')}{path}", timeout=5)
    return r.status_code, r.json()


def in_flight(status: dict[str, Any]) -> str | None:
    """What is still in flight per /status (None: nothing): unsent events, records not yet
    consumed, timers due."""
    busy = []
    for name, s in status["services"].items():
        outbox = s.get("outbox")
        if not isinstance(outbox, dict) or outbox["unsent"]:
            busy.append(f"{name}: outbox")
        if s["consumer"].get("lag", 0):
            busy.append(f"{name}: {s['consumer']['lag']} to consume")
        timers = s.get("timers")
        if isinstance(timers, dict) and timers["due"]:
            busy.append(f"{name}: {timers['due']} timer(s) due")
    return ", ".join(busy) or None


def _wait(args: argparse.Namespace) -> None:
    """Poll until the server is ready (and, with --settled, until every event it emitted has
    been applied): what a script runs before its first request, or between steps."""
    import httpx

    deadline = time.monotonic() + args.timeout
    started, said, why = time.monotonic(), 0.0, "not asked yet"
    quiet = 0
    while time.monotonic() < deadline:
        try:
            code, body = _status(args.url, "/readyz")
            why = f"not ready ({body.get('status')})" if code != 200 else ""
            if not why and args.settled:
                busy = in_flight(_status(args.url, "/status")[1])
                quiet = 0 if busy else quiet + 1
                why = f"in flight: {busy}" if busy else ("" if quiet >= 2 else "settling")
            if not why:
                return
        except httpx.HTTPError as exc:
            why = f"no answer ({type(exc).__name__})"
        waited = time.monotonic() - started
        if waited - said >= 5:  # a line every 5 s: a first start compiles, migrates, connects
            print(f"binome wait: {args.url} {why} after {waited:.0f} s", file=sys.stderr)
            said = waited
        time.sleep(0.1)
    raise CliError(f"{args.url} still {why} after {args.timeout:.0f} s")


def _token(args: argparse.Namespace) -> None:
    role = Role(args.role)
    if role is Role.employee and not args.employee_id:
        sys.exit("an employee token needs --employee-id")
    print(
        mint_token(
            Settings(),
            org=args.org,
            role=role,
            sub=args.sub,
            employee_id=args.employee_id,
            ttl_s=args.ttl,
        )
    )


def _makemigration(args: argparse.Namespace) -> None:
    """Autogenerate against a scratch SQLite database brought to the current head."""
    from alembic import command
    from alembic.config import Config

    from services import load
    from shared import db

    definition = load(args.service)
    with tempfile.TemporaryDirectory() as tmp:
        engine = db.create_engine(f"sqlite+aiosqlite:///{tmp}/scratch.db")
        cfg = Config()
        cfg.set_main_option("script_location", str(definition.migrations_dir))

        async def run() -> None:
            await db.upgrade(engine, definition.migrations_dir)

            def revise(conn: object) -> None:
                cfg.attributes["connection"] = conn
                command.revision(cfg, message=args.message, autogenerate=True)

            async with engine.begin() as conn:
                await conn.run_sync(revise)
            await engine.dispose()

        asyncio.run(run())


def _groups(settings: Settings, names: list[str]) -> list[str]:
    """Consumer groups from service names ("reporting") or group names ("binome-reporting")."""
    from services import SERVICE_NAMES

    prefix = settings.topic_prefix
    out = []
    for name in names or list(SERVICE_NAMES):
        bare = name.removeprefix(prefix)
        out.append(f"{prefix}{bare if bare.startswith('binome-') else f'binome-{bare}'}")
    return out


def _when(value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date-time: {value!r}") from exc
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _dlq(args: argparse.Namespace) -> None:
    from shared.app import make_bus
    from shared.messaging import dlq

    settings = Settings()

    async def run() -> int:
        bus = make_bus(settings, client_id="binome-dlq")
        await bus.start()
        try:
            refs = getattr(args, "ref", None)
            letters = await dlq.dead_letters(
                bus,
                _groups(settings, args.group),
                prefix=settings.topic_prefix,
                event_type=getattr(args, "type", None),
                since=getattr(args, "since", None),
                until=getattr(args, "until", None),
                event_ids=getattr(args, "event_id", None) or [],
            )
            if args.action == "show":
                letters = [x for x in letters if refs in (x.ref, x.event_id)]
                if not letters:
                    print(f"no dead letter {refs!r}", file=sys.stderr)
                    return 1
                for x in letters:
                    body = (x.message.value or b"").decode(errors="replace")
                    headers = {k: v.decode(errors="replace") for k, v in x.message.headers}
                    print(json.dumps({**x.summary(), "headers": headers, "data": body}, indent=2))
                return 0
            if args.action == "list":
                if args.json:
                    print(json.dumps([x.summary() for x in letters], indent=2))
                else:
                    for x in letters:
                        at = x.dead_lettered_at.isoformat() if x.dead_lettered_at else "-"
                        print(f"{x.ref}\t{at}\t{x.event_type}\t{x.event_id}\t{x.error[:120]}")
                    print(f"{len(letters)} dead letter(s)", file=sys.stderr)
                return 0
            if args.dry_run:
                print(f"would replay {len(letters)} dead letter(s)")
                return 0
            n = await dlq.replay(bus, letters)
            print(f"replayed {n} dead letter(s)")
            return 0
        finally:
            await bus.stop()

    sys.exit(asyncio.run(run()))


def _rebuild(args: argparse.Namespace) -> None:
    from services import load
    from services.reporting.models import MADE_BY_CALLERS
    from shared.app import make_bus
    from shared.rebuild import Rebuild

    settings = Settings()

    async def run() -> None:
        bus = make_bus(settings, client_id="binome-rebuild")
        await bus.start()
        try:
            done = await Rebuild(
                load("reporting"), settings, bus, kept=MADE_BY_CALLERS, source=args.source
            ).run()
        finally:
            await bus.stop()
        print(
            f"rebuilt reporting's projection from {done.replayed} event(s) in {done.seconds} s"
            f" ({done.skipped} undecodable or off contract, skipped; the switch"
            f" {done.switch_seconds} s)"
        )
        for table, n in done.rows.items():
            print(f"{table}\t{n}")

    asyncio.run(run())


def _events_purge(args: argparse.Namespace) -> None:
    from services import load_all
    from shared.app import make_bus
    from shared.service import log_retention

    settings = Settings()

    async def run() -> None:
        bus = make_bus(settings, client_id="binome-purge")
        await bus.start()
        try:
            for definition in load_all():
                forgotten = await log_retention(definition, settings, bus).purge()
                for topic, n in forgotten.items():
                    print(f"{topic}\t{n}")
        finally:
            await bus.stop()

    asyncio.run(run())


def _gdpr_export(args: argparse.Namespace) -> None:
    """Everything each service's database holds on one employee (shared.privacy), as one JSON
    document: the data subject's access request, gathered service by service."""
    from services import load_all
    from shared import db
    from shared.privacy import export_subject

    settings = Settings()

    async def run() -> dict[str, Any]:
        held: dict[str, Any] = {}
        for definition in load_all():
            engine = db.create_engine(settings.database_url_for(definition.name))
            try:
                async with db.reading(engine) as conn:
                    held[definition.name] = await export_subject(
                        conn,
                        definition.base.metadata.tables,
                        org=args.org,
                        employee_id=args.employee_id,
                    )
            finally:
                await engine.dispose()
        return held

    held = asyncio.run(run())
    if not any(held.values()):
        raise CliError(f"no data held on employee {args.employee_id!r} in {args.org!r}")
    document = {
        "org": args.org,
        "employee_id": args.employee_id,
        "exported_at": datetime.now(UTC).isoformat(),
        "services": held,
    }
    text = json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"
    if args.out:
        Path(args.out).write_text(text)
    else:
        sys.stdout.write(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="binome", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API (all services, or one)")
    serve.add_argument(
        "--service", choices=SERVICE_NAMES, help="run only this service (distributed mode)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info", choices=LOG_LEVELS)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes serving the port (distributed mode: one per core; each runs the "
        "service whole, its relay and its share of the consumer group)",
    )
    serve.add_argument(
        "--one-process",
        action="store_true",
        help="embedded mode: the background loops (relays, consumers, timers) in the API's "
        "process instead of a second one (one core)",
    )
    # The embedded server's loops process (shared.companion), started by `binome serve` itself.
    serve.add_argument("--loops-of", type=int, metavar="PID", help=argparse.SUPPRESS)
    serve.set_defaults(func=_serve)

    proxy = sub.add_parser(
        "proxy-config", help="write nginx's configuration routing /v1/<resource> to the services"
    )
    proxy.add_argument(
        "--route",
        action="append",
        default=[],
        help="service=http://host:port (repeat for each of the five services)",
    )
    proxy.add_argument("--out", required=True, help="the folder the files are written to")
    proxy.add_argument(
        "--root", help="where that folder is once deployed (default: --out, absolute)"
    )
    proxy.add_argument("--listen", default="8000", help="nginx's listen address or port")
    proxy.add_argument("--user", help="the user nginx's workers run as (when started as root)")
    proxy.set_defaults(func=_proxy_config)

    wait = sub.add_parser("wait", help="wait until the API is ready (or every event applied)")
    wait.add_argument("--url", default="http://127.0.0.1:8000")
    wait.add_argument("--timeout", type=float, default=300.0, help="seconds")
    wait.add_argument(
        "--settled", action="store_true", help="also wait until no event is left in flight"
    )
    wait.set_defaults(func=_wait)

    token = sub.add_parser("token", help="mint a development JWT")
    token.add_argument("--org", required=True)
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--employee-id", help="the HRIS id an employee token acts as")
    token.add_argument("--sub")
    token.add_argument("--ttl", type=int, default=12 * 3600, help="seconds")
    token.set_defaults(func=_token)

    mig = sub.add_parser("makemigration", help="autogenerate a migration for one service")
    mig.add_argument("service", choices=SERVICE_NAMES)
    mig.add_argument("-m", "--message", required=True)
    mig.set_defaults(func=_makemigration)

    reporting = sub.add_parser("reporting", help="reporting's projection")
    reporting_sub = reporting.add_subparsers(dest="action", required=True)
    rebuild = reporting_sub.add_parser(
        "rebuild", help="rebuild it from the events it applied while the old one keeps serving"
    )
    rebuild.add_argument(
        "--from",
        dest="source",
        choices=("archive", "log"),
        default="archive",
        help="archive: the events reporting applied, kept in its database (the default); "
        "log: the broker's topics from their start (history from before the archive)",
    )
    rebuild.set_defaults(func=_rebuild)

    events = sub.add_parser("events", help="the event log")
    events_sub = events.add_subparsers(dest="action", required=True)
    purge = events_sub.add_parser(
        "purge",
        help="forget now what the retentions let go (each service's records every group has "
        "read, older than BINOME_EVENT_RETENTION; dead letters older than "
        "BINOME_DEAD_LETTER_RETENTION); the relays do it every minute",
    )
    purge.set_defaults(func=_events_purge)

    gdpr = sub.add_parser("gdpr", help="a data subject's rights")
    gdpr_sub = gdpr.add_subparsers(dest="action", required=True)
    export = gdpr_sub.add_parser(
        "export", help="everything Binôme holds on one employee, as JSON (all five services)"
    )
    export.add_argument("--org", required=True)
    export.add_argument("employee_id")
    export.add_argument("--out", help="write the JSON to this file (default: standard output)")
    export.set_defaults(func=_gdpr_export)

    dlq = sub.add_parser("dlq", help="list, show and replay dead letters")
    dlq_sub = dlq.add_subparsers(dest="action", required=True)
    for action in ("list", "show", "replay"):
        p = dlq_sub.add_parser(action)
        p.add_argument(
            "--group",
            action="append",
            default=[],
            help="a service or consumer group (repeatable; default: every service)",
        )
        p.set_defaults(func=_dlq)
        if action == "show":
            p.add_argument("ref", help="group/partition/offset, or the event id")
            continue
        p.add_argument("--type", help="only events of this type")
        p.add_argument("--since", type=_when, help="dead-lettered at or after (ISO 8601)")
        p.add_argument("--until", type=_when, help="dead-lettered before (ISO 8601)")
        if action == "list":
            p.add_argument("--json", action="store_true")
        else:
            p.add_argument("--event-id", action="append", help="only this event (repeatable)")
            p.add_argument("--dry-run", action="store_true")

    args = parser.parse_args(argv)
    try:
        args.func(args)
    except ValidationError as exc:
        _fail(parser, f"bad setting: {_settings_error(exc)}")
    except CliError as exc:
        _fail(parser, str(exc))


def _fail(parser: argparse.ArgumentParser, message: str) -> None:
    print(f"{parser.prog}: {message}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main()
