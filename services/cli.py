"""The `binome` command: run the services, mint development tokens, write migrations.

binome serve                              embedded: all five services on :8000, SQLite, local bus
binome serve --service matching --port 8002   one service (distributed mode, env settings)
binome gateway --port 8000                routes /v1/<resource> to the services' processes
binome token --org acme --role admin      a development JWT signed with BINOME_JWT_SECRET
binome makemigration enrollment -m "..."  autogenerate an Alembic revision for one service
binome dlq list [--group reporting] [--type T] [--since ISO] [--until ISO] [--json]
binome dlq show REF|EVENT_ID              one dead letter whole (REF is group/partition/offset)
binome dlq replay [filters] [--event-id ID ...] [--dry-run]
                                          re-inject dead letters into their original topics
The dlq commands use the same BINOME_* settings as the services (bus, bootstrap, prefix).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from datetime import UTC, datetime

from shared.auth import Role, mint_token
from shared.settings import BusKind, Settings


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from services import load, load_all
    from shared.app import build_app

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
    name = args.service or "binome"
    _logs(name, settings, args, embedded=not args.service)
    if args.service:
        app = build_app([load(args.service)], settings, name=args.service)
    else:
        app = build_app(load_all(), settings, name="binome")
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, log_config=None)


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


def _gateway(args: argparse.Namespace) -> None:
    import uvicorn

    from services.gateway import build_gateway

    routes = dict(item.split("=", 1) for item in args.route)
    _logs("gateway", Settings(), args, embedded=False)
    gateway = build_gateway(routes)
    uvicorn.run(gateway, host=args.host, port=args.port, log_level=args.log_level, log_config=None)


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="binome", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API (all services, or one)")
    serve.add_argument("--service", help="run only this service (distributed mode)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(func=_serve)

    gateway = sub.add_parser("gateway", help="route /v1/<resource> to service processes")
    gateway.add_argument(
        "--route",
        action="append",
        default=[],
        help="service=http://host:port (repeat for each service)",
    )
    gateway.add_argument("--host", default="127.0.0.1")
    gateway.add_argument("--port", type=int, default=8000)
    gateway.add_argument("--log-level", default="info")
    gateway.set_defaults(func=_gateway)

    token = sub.add_parser("token", help="mint a development JWT")
    token.add_argument("--org", required=True)
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--employee-id", help="the HRIS id an employee token acts as")
    token.add_argument("--sub")
    token.add_argument("--ttl", type=int, default=12 * 3600, help="seconds")
    token.set_defaults(func=_token)

    mig = sub.add_parser("makemigration", help="autogenerate a migration for one service")
    mig.add_argument("service")
    mig.add_argument("-m", "--message", required=True)
    mig.set_defaults(func=_makemigration)

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
    args.func(args)


if __name__ == "__main__":
    main()
