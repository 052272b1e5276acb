"""``python -m dollr_sandbox``: serve the sandbox standalone."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from dollr_sandbox.config import SandboxConfig, WrongPasscode
from dollr_sandbox.server import Sandbox


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    defaults = SandboxConfig()
    parser = argparse.ArgumentParser(prog="python -m dollr_sandbox", description="Serve the Dollr sandbox.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--state", metavar="FILE", help="SQLite file keeping the state across restarts")
    parser.add_argument("--latency-ms", type=int, default=0, help="delay added to every /v1 request")
    parser.add_argument("--unverified", action="store_true", help="403 on payouts, transfers and refunds")
    parser.add_argument("--lenient", action="store_true", help="accept ids as strings or ints, legacy bodies")
    parser.add_argument("--data-envelope", action="store_true", help='wrap /v1 bodies in {"data": ...}')
    parser.add_argument(
        "--no-operator-check",
        action="store_true",
        help="accept a wallet number whose prefix is another operator's (the docs' sample needs it)",
    )
    parser.add_argument(
        "--no-party-check", action="store_true", help="accept a payment account of another party"
    )
    parser.add_argument(
        "--refuse-second-collection",
        action="store_true",
        help="422 on a collection while the document is PROCESSING (default: charge it, as Dollr may)",
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=defaults.rate_limit_per_minute,
        help="requests per minute per merchant, across its tokens (0: no rate limits at all)",
    )
    parser.add_argument(
        "--rate-limit-window",
        type=float,
        default=defaults.rate_limit_window_seconds,
        help="seconds of the sliding window the rate limit is counted over (the limit scaled to it)",
    )
    parser.add_argument(
        "--token-rate-limit",
        type=int,
        default=defaults.token_rate_limit_per_minute,
        help="token requests per minute per client id (0: no limit)",
    )
    parser.add_argument("--client-id", default=defaults.client_id)
    parser.add_argument("--client-secret", default=defaults.client_secret)
    parser.add_argument("--passcode", default=defaults.passcode)
    parser.add_argument("--passcode-phone", default=defaults.passcode_phone)
    parser.add_argument(
        "--wrong-passcode",
        choices=[w.value for w in WrongPasscode],
        default=defaults.wrong_passcode.value,
        help="answer a wrong payout passcode with a FAILED execution (200), a 403 or a 422",
    )
    parser.add_argument("--pending-seconds", type=float, default=defaults.pending_seconds)
    parser.add_argument("--processing-seconds", type=float, default=defaults.processing_seconds)
    parser.add_argument("--session-ttl-seconds", type=int, default=defaults.session_ttl_seconds)
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    config = SandboxConfig(
        state_file=args.state,
        latency_ms=args.latency_ms,
        verified=not args.unverified,
        lenient=args.lenient,
        data_envelope=args.data_envelope,
        check_operator=not args.no_operator_check,
        check_account_party=not args.no_party_check,
        refuse_collection_while_processing=args.refuse_second_collection,
        rate_limit_per_minute=args.rate_limit,
        rate_limit_window_seconds=args.rate_limit_window,
        token_rate_limit_per_minute=args.token_rate_limit,
        client_id=args.client_id,
        client_secret=args.client_secret,
        passcode=args.passcode,
        passcode_phone=args.passcode_phone,
        wrong_passcode=WrongPasscode(args.wrong_passcode),
        pending_seconds=args.pending_seconds,
        processing_seconds=args.processing_seconds,
        session_ttl_seconds=args.session_ttl_seconds,
    )
    sandbox = Sandbox(config)
    print(f"Dollr sandbox on http://{args.host}:{args.port} (client id {config.client_id!r})", flush=True)
    sandbox.serve(args.host, args.port, args.log_level)


if __name__ == "__main__":
    main(sys.argv[1:])
