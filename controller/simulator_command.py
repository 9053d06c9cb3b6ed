"""The `simulator` command: its flags and how it starts the built-in iControl REST simulator
(one unit, or an HA pair with --pair). The product reaches the simulator only from here and
from cli.py's wiring of `run` without --bigip-url."""

from __future__ import annotations

import argparse
from typing import Any

from controller.config_files import read_secret
from controller.errors import ConfigError
from controller.settings import DEVICE_GROUP


def add_simulator_command(commands: Any) -> None:
    """The `simulator` subcommand on cli.py's subparsers."""
    sim = commands.add_parser("simulator", help="serve the built-in iControl REST simulator")
    sim.add_argument("--listen", default="127.0.0.1:8443", help="HOST:PORT [127.0.0.1:8443]")
    sim.add_argument(
        "--state",
        default=None,
        metavar="FILE",
        help="persist the simulated configuration in this JSON file",
    )
    sim.add_argument(
        "--cert-out",
        default=None,
        metavar="FILE",
        help="write the simulator's certificate here so clients can trust it",
    )
    sim.add_argument(
        "--pair",
        nargs="?",
        const="docker-ha",
        metavar="DEVICE_GROUP",
        help="serve an HA pair, the second unit on the next port (device group [docker-ha])",
    )
    sim.add_argument(
        "--health-checks",
        choices=("on", "off"),
        default="on",
        help="probe pool members with their monitors, so their state is real [on]",
    )
    sim.add_argument(
        "--cert-name",
        action="append",
        default=[],
        metavar="NAME",
        help="also name this IP address or DNS name in the certificate (repeatable); "
        "loopback and the --listen address are always in it",
    )
    sim.add_argument("--username", default="admin")
    sim.add_argument(
        "--password-file",
        default=None,
        metavar="FILE",
        help="file with the password to accept (default: admin)",
    )
    for flag, cost in (
        ("--latency", "every request waits before its answer"),
        ("--commit-cost", "per committed change (a transaction's command, a lone write)"),
    ):
        text = f"device model: ms {cost} [0]"
        sim.add_argument(flag, type=float, default=0.0, metavar="MS", help=text)


def cmd_simulator(args: argparse.Namespace) -> int:
    from functools import partial

    from controller.simulator.pair import serve_pair
    from controller.simulator.server import serve

    if args.pair is not None and not DEVICE_GROUP.fullmatch(args.pair):
        # The controller's --config-sync takes the name the pair prints: one rule for both,
        # so a pair the simulator serves is one the controller can be pointed at.
        raise ConfigError(
            f"--pair: {args.pair!r} is not a device group name (letters, digits, '.', '_', "
            "'-'; at most 255, not starting with '.' or '-')"
        )
    password = "admin"
    if args.password_file:
        password = read_secret(
            args.password_file, "--password-file", "the password the simulator accepts"
        )
    run = partial(serve_pair, device_group=args.pair) if args.pair is not None else serve
    return run(
        listen=args.listen,
        state_file=args.state,
        cert_out=args.cert_out,
        username=args.username,
        password=password,
        health_checks=args.health_checks == "on",
        cert_names=tuple(args.cert_name),
        latency_ms=args.latency,
        commit_cost_ms=args.commit_cost,
    )
