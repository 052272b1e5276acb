"""Dollr Ops Console core: settings, the Dollr API client, the ledger, the payment flows and the sandbox.

Never imports streamlit, so scripts and cron jobs can use it alone.
"""

__version__ = "0.1.0"
