"""Plain values the console and the simulator (dollr_sandbox) both need: the sandbox's well-known
demo credentials. This module and basics/enums are all the simulator may import from dollr_core,
so they import nothing of ours."""

VERSION = "0.1.0"  # of the console, sent in the User-Agent

SANDBOX_CLIENT_ID = "sandbox"
SANDBOX_CLIENT_SECRET = "sandbox-secret"
SANDBOX_PASSCODE = "123456"
SANDBOX_PASSCODE_PHONE = "231880000000"
