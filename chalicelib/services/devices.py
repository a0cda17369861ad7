"""Devices: a device's ECDSA P-256 public key, registered once with the payment password,
signs the biometric confirmation challenges of 先用后付 orders."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pynamodb.exceptions import DoesNotExist

from .. import errors
from ..clock import iso
from ..db import Tx
from ..errors import FieldError
from ..models.users import Device as Device
from ..models.users import User
from . import accounts
from .password_tries import commit_releasing_try, tries_released, verify_password

if TYPE_CHECKING:
    from ..idempotency import IdemScope

KEY_ERRORS = errors.raises(unprocessable=["device_not_registered"])  # no key to check a signature with
DEVICE_ERRORS = errors.raises(
    conflict=["device_already_registered"],
    unprocessable=["invalid_public_key", "payment_password_not_set", "payment_password_incorrect"],
    locked=["payment_password_locked"],
)


def register_device(
    user_id: str, device_id: str, public_key_pem: str, password: str, now: datetime, idem: IdemScope | None = None
) -> Device:
    """Register a device's ECDSA P-256 public key once; it signs confirmation challenges.

    A device key confirms orders without the password, so registering one is a step-up:
    the payment password, with its lockout (a stolen session token alone is not enough).
    """
    user = accounts.get_or_create(user_id, now)
    try:
        key = serialization.load_pem_public_key(public_key_pem.encode())
    except (ValueError, TypeError) as exc:
        raise errors.unprocessable(
            "invalid_public_key",
            "the public key is not a PEM public key",
            [FieldError("public_key_pem", "not a PEM public key")],
        ) from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise errors.unprocessable(
            "invalid_public_key",
            "the device key must be ECDSA P-256",
            [FieldError("public_key_pem", "not an ECDSA P-256 key")],
        )
    verify_password(user, password, now, release_later=True)
    device = Device(user_id, device_id, public_key_pem=public_key_pem, created_at=iso(now))
    tx = Tx()
    tx.save(
        device,
        condition=Device.device_id.does_not_exist(),
        on_fail=errors.conflict("device_already_registered", "this device is already registered"),
    )
    tx.update(User(user_id), [*tries_released(), User.last_device_id.set(device_id)])
    commit_releasing_try(tx, user, result=device, idem=idem)
    return device


def device_key(user_id: str, device_id: str) -> ec.EllipticCurvePublicKey:
    try:
        device = Device.get(user_id, device_id)
    except DoesNotExist as exc:
        raise errors.unprocessable(
            "device_not_registered",
            "this device is not registered for biometric confirmation",
            [FieldError("device_id", "not registered")],
        ) from exc
    key = serialization.load_pem_public_key(device.public_key_pem.encode())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key
