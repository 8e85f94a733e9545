"""The `binome` command: run the services, mint development tokens, write migrations.

binome serve                              embedded: all five services on :8000, SQLite, local bus
binome serve --service matching --port 8002   one service (distributed mode, env settings)
binome gateway --port 8000                routes /v1/<resource> to the services' processes
binome token --org acme --role admin      a development JWT signed with BINOME_JWT_SECRET
binome makemigration enrollment -m "..."  autogenerate an Alembic revision for one service
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile

from shared.auth import Role, mint_token
from shared.settings import Settings


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from services import load, load_all
    from shared.app import build_app

    if args.service:
        app = build_app([load(args.service)], name=args.service)
    else:
        app = build_app(load_all(), name="binome")
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)


def _gateway(args: argparse.Namespace) -> None:
    import uvicorn

    from shared.gateway import build_gateway

    routes = dict(item.split("=", 1) for item in args.route)
    uvicorn.run(build_gateway(routes), host=args.host, port=args.port, log_level=args.log_level)


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

    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
