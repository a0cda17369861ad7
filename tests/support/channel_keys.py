"""Channel keys generated for the test session, put in the environment the way a stage's
secrets are. The channel side's private keys stay here: the tests play Alipay, WeChat Pay
and the card gateway, signing their notifications."""

from __future__ import annotations

import os
import secrets
import tempfile

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


ALIPAY_PLATFORM = _rsa()  # Alipay's own key: signs notifications
ALIPAY_APP = _rsa()  # our app key: signs order strings
WECHAT_PLATFORM = _rsa()  # WeChat Pay platform key: signs notifications
WECHAT_PLATFORM_NEXT = _rsa()  # its next key, accepted beside it while WeChat Pay rotates
WECHAT_NEXT_SERIAL = "SANDBOXPLATFORMSERIAL0002"  # the local stage lists it second
WECHAT_MCH = _rsa()  # our merchant API key
WECHAT_API_V3_KEY = secrets.token_hex(16)  # 32 ASCII characters
CARD_HMAC_KEY = secrets.token_hex(32)


def install() -> None:
    os.environ.update(
        {
            "ALIPAY_APP_PRIVATE_KEY": _private_pem(ALIPAY_APP),
            "ALIPAY_PUBLIC_KEY": _public_pem(ALIPAY_PLATFORM),
            "WECHATPAY_MCH_PRIVATE_KEY": _private_pem(WECHAT_MCH),
            "WECHATPAY_PLATFORM_PUBLIC_KEY": _public_pem(WECHAT_PLATFORM),
            f"WECHATPAY_PLATFORM_PUBLIC_KEY_{WECHAT_NEXT_SERIAL}": _public_pem(WECHAT_PLATFORM_NEXT),
            "WECHATPAY_API_V3_KEY": WECHAT_API_V3_KEY,
            "CARD_NOTIFY_HMAC_KEY": CARD_HMAC_KEY,
            # What /v1/dev/payments/notify signs with when it plays the channel.
            "ALIPAY_SANDBOX_PLATFORM_PRIVATE_KEY": _private_pem(ALIPAY_PLATFORM),
            "WECHATPAY_SANDBOX_PLATFORM_PRIVATE_KEY": _private_pem(WECHAT_PLATFORM),
            # Never the repository's .local/: a missing key must fail, not be generated there.
            "CHANNEL_KEY_DIR": tempfile.mkdtemp(prefix="paylater-channel-keys-"),
        }
    )
