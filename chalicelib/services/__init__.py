"""The rules, in plain Python: each module is one part of the story."""

# Registered for every process that runs a service: the commit hook that arms a merchant's
# payout whenever a transaction credits the merchant's payable.
from . import payout_due  # noqa: F401
