"""``chainrule playground``: train a network in the browser and watch backpropagation happen.

Starts a local web server (on 127.0.0.1, a free port unless --port says), prints its address and
opens the page in the browser. The page trains a small network on the lecture's 2-D point sets
with chainrule, on this machine, and draws the decision regions, the curves, the network with its
weights and gradients, and one example's computational graph. Ctrl-C stops the server. Needs the
playground extra: pip install "chainrule[playground]".
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
import threading
import webbrowser

from ._common import fail

EXAMPLES = """examples:
  chainrule playground                   serve on 127.0.0.1 (a free port) and open the browser
  chainrule playground --port 8765 --no-browser
  chainrule playground --host 0.0.0.0    reachable from other machines (a warning says so)
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "playground",
        help="train a network in the browser and watch backpropagation happen",
        description=__doc__,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--port", type=int, default=0, help="the port (default: a free one)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on (default 127.0.0.1: this machine only)",
    )
    p.add_argument("--no-browser", action="store_true", help="do not open the browser")
    p.add_argument(
        "--max-sessions", type=int, default=None, help="pages served at once (default 8)"
    )
    p.set_defaults(run_command=run)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        return fail("playground", f"--port must be from 0 to 65535; got {args.port}")
    try:
        from ..playground import Limits, serve
        from ..playground.server import create_app  # noqa: F401  (the extra is installed)
    except ImportError as e:
        return fail(
            "playground",
            f'needs the playground extra: pip install "chainrule[playground]" ({e})',
        )
    limits = Limits()
    if args.max_sessions is not None:
        if args.max_sessions < 1:
            return fail("playground", f"--max-sessions must be at least 1; got {args.max_sessions}")
        limits = Limits(max_sessions=args.max_sessions)
    loopback = _is_loopback(args.host)
    if not loopback:
        print(
            f"chainrule playground: warning: listening on {args.host}, not 127.0.0.1: anyone who "
            "can reach this machine can open the playground and use its CPU",
            file=sys.stderr,
        )

    def ready(url: str) -> None:
        print(f"chainrule playground: serving on {url}  (Ctrl-C stops it)", flush=True)
        if not args.no_browser:  # in a thread: a console browser would block the server
            threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()

    try:
        serve(args.host, args.port, limits=limits, on_ready=ready, allow_any_host=not loopback)
    except OSError as e:
        return fail("playground", str(e))
    except KeyboardInterrupt:
        pass
    print("chainrule playground: stopped", flush=True)
    return 0
