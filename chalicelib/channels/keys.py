"""Channel keys: stage secrets in the cloud; generated sandbox keys on the local stage.

Real keys and ids come from the stage's secret (or environment) through
`settings().secret`; nothing here carries a key. On a sandbox stage with a key directory
(`CHANNEL_KEY_DIR`, local only), a missing key is generated once on disk, and the
channel side's own keys (which sign the sandbox's notifications) are generated beside
ours so the local stack can show every path.
"""

from __future__ import annotations

import base64
import os
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ..config import ConfigError, settings

ALIPAY_APP_PRIVATE_KEY = "ALIPAY_APP_PRIVATE_KEY"
ALIPAY_PUBLIC_KEY = "ALIPAY_PUBLIC_KEY"
WECHATPAY_MCH_PRIVATE_KEY = "WECHATPAY_MCH_PRIVATE_KEY"
WECHATPAY_PLATFORM_PUBLIC_KEY = "WECHATPAY_PLATFORM_PUBLIC_KEY"
WECHATPAY_API_V3_KEY = "WECHATPAY_API_V3_KEY"
CARD_NOTIFY_HMAC_KEY = "CARD_NOTIFY_HMAC_KEY"
CARD_GATEWAY_API_KEY = "CARD_GATEWAY_API_KEY"
# The channel side's private keys: exist only on sandbox stages (they sign the sandbox's
# notifications; in production Alipay and WeChat Pay hold them).
ALIPAY_SANDBOX_PLATFORM_PRIVATE_KEY = "ALIPAY_SANDBOX_PLATFORM_PRIVATE_KEY"
WECHATPAY_SANDBOX_PLATFORM_PRIVATE_KEY = "WECHATPAY_SANDBOX_PLATFORM_PRIVATE_KEY"

_GENERATED_RSA = {
    ALIPAY_APP_PRIVATE_KEY,
    ALIPAY_SANDBOX_PLATFORM_PRIVATE_KEY,
    WECHATPAY_MCH_PRIVATE_KEY,
    WECHATPAY_SANDBOX_PLATFORM_PRIVATE_KEY,
}
_DERIVED_PUBLIC = {
    ALIPAY_PUBLIC_KEY: ALIPAY_SANDBOX_PLATFORM_PRIVATE_KEY,
    WECHATPAY_PLATFORM_PUBLIC_KEY: WECHATPAY_SANDBOX_PLATFORM_PRIVATE_KEY,
}


def wechatpay_platform_key(serial: str) -> str | None:
    """The WeChat Pay platform public key of `serial`, or None for a serial we do not accept.

    Configuration lists the accepted serials (two while WeChat Pay rotates its key). Each
    serial's key is the secret `WECHATPAY_PLATFORM_PUBLIC_KEY_<serial>`; the first serial's
    may also be the plain `WECHATPAY_PLATFORM_PUBLIC_KEY`. With no list, the plain key
    verifies whatever serial is named.
    """
    serials = settings().channels.wechatpay_platform_serials
    if not serials:
        return secret(WECHATPAY_PLATFORM_PUBLIC_KEY)
    if serial not in serials:
        return None
    own = f"{WECHATPAY_PLATFORM_PUBLIC_KEY}_{serial}"
    if serial != serials[0]:
        return secret(own)
    try:
        return settings().secret(own)  # a stage secret only: the sandbox generates the plain one
    except ConfigError:
        return secret(WECHATPAY_PLATFORM_PUBLIC_KEY)


def wechatpay_sandbox_signing_key(serial: str) -> str:
    """Sandbox only: the private key the channel side signs with under `serial`."""
    serials = settings().channels.wechatpay_platform_serials
    if not serials or serial == serials[0]:
        return secret(WECHATPAY_SANDBOX_PLATFORM_PRIVATE_KEY)
    return secret(f"{WECHATPAY_SANDBOX_PLATFORM_PRIVATE_KEY}_{serial}")


def secret(name: str) -> str:
    """A channel key or key id from the stage's secrets (or the local sandbox)."""
    cfg = settings()
    try:
        return cfg.secret(name)
    except ConfigError:
        if not (cfg.channel_sandbox and cfg.channels.key_dir):
            raise
    return _sandbox_value(cfg.channels.key_dir, name)


def _rotated(name: str, base: str) -> bool:
    """`name` is `base` + `_<serial>`: a key of another WeChat Pay platform serial."""
    return name.startswith(base + "_") and name[len(base) + 1 :].isalnum()


def _sandbox_value(key_dir: str, name: str) -> str:
    if name in _DERIVED_PUBLIC:
        private = load_private_key(_sandbox_value(key_dir, _DERIVED_PUBLIC[name]))
        return public_pem(private)
    if _rotated(name, WECHATPAY_PLATFORM_PUBLIC_KEY):
        suffix = name[len(WECHATPAY_PLATFORM_PUBLIC_KEY) :]
        return public_pem(load_private_key(_sandbox_value(key_dir, WECHATPAY_SANDBOX_PLATFORM_PRIVATE_KEY + suffix)))
    rsa_key = name in _GENERATED_RSA or _rotated(name, WECHATPAY_SANDBOX_PLATFORM_PRIVATE_KEY)
    path = os.path.join(key_dir, f"{name.lower()}.pem" if rsa_key else name.lower())
    if not os.path.exists(path):
        if rsa_key:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            data = private_pem(key).encode()
        elif name == WECHATPAY_API_V3_KEY:
            data = base64.b32encode(os.urandom(20)).decode()[:32].encode()  # 32 ASCII bytes, like the real one
        else:
            raise ConfigError(f"missing secret {name}")
        os.makedirs(key_dir, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> str:
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _pem(text: str, kind: str) -> bytes:
    """Accept a PEM, or the bare base64 body Alipay's console hands out."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        return text.encode()
    body = "\n".join(text[i : i + 64] for i in range(0, len(text), 64))
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n".encode()


@lru_cache(maxsize=16)
def load_private_key(text: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(_pem(text, "PRIVATE KEY"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError("channel private keys are RSA keys")
    return key


@lru_cache(maxsize=16)
def load_public_key(text: str) -> rsa.RSAPublicKey:
    raw = _pem(text, "PUBLIC KEY")
    key: Any
    if b"CERTIFICATE" in raw:
        from cryptography import x509

        key = x509.load_pem_x509_certificate(raw).public_key()
    else:
        key = serialization.load_pem_public_key(raw)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ConfigError("channel public keys are RSA keys")
    return key


def rsa_sign(private_key_text: str, message: bytes) -> str:
    """SHA256withRSA (PKCS#1 v1.5), base64: Alipay RSA2 and WeChat Pay v3 alike."""
    signature = load_private_key(private_key_text).sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def rsa_verify(public_key_text: str, message: bytes, signature_b64: str) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except ValueError:
        return False
    try:
        load_public_key(public_key_text).verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True
