"""The sandbox's routes: ``/v1`` as the contract lists it, and ``/_sandbox`` controls."""
