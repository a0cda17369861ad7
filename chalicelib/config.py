"""One frozen settings object per stage, read once from the environment.

Every rule value lives in `.chalice/config.json` (per stage) and reaches the code as an
environment variable; nothing here carries a default for a business rule.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any


class ConfigError(RuntimeError):
    """A required setting is missing or malformed."""


def _req(env: dict[str, str], name: str) -> str:
    value = env.get(name)
    if value is None or value == "":
        raise ConfigError(f"missing setting {name}")
    return value


def _int(env: dict[str, str], name: str) -> int:
    raw = _req(env, name)
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"setting {name} must be an integer") from exc


@dataclass(frozen=True)
class Rules:
    """Business rules (SPEC.md 'Rules'); values come from the stage configuration."""

    currency: str
    payment_window_seconds: int
    auto_confirm_receipt_seconds: int
    checkout_ttl_seconds: int
    collection_retry_seconds: int
    collection_max_retries: int
    due_reminder_lead_seconds: int
    min_age_years: int
    credit_start_fen: int
    credit_step_fen: int
    credit_step_every_on_time: int
    credit_max_fen: int
    password_max_tries: int
    password_lock_seconds: int
    password_scrypt_n: int
    points_per_yuan_paid: int
    points_per_yuan_redeemed: int
    redemption_auto_approve_max_fen: int
    redemption_min_account_age_seconds: int
    redemption_daily_max_count: int
    redemption_daily_max_fen: int
    # Risk decisions (SPEC 'Risk decisions'): the rule set as versioned JSON
    # (services/risk/rules.py) and how long a held order waits for an operator.
    risk_rules: str
    risk_review_seconds: int
    idempotency_ttl_seconds: int
    idempotency_lock_seconds: int
    platform_fee_bps: int
    agreement_version: str
    max_body_bytes: int
    page_limit_max: int
    timer_shards: int
    timer_shards_previous: int
    ledger_shards: int
    ledger_shards_previous: int
    # RFC 3339 UTC time from which every ledger entry carries `day_bucket` (the `by_day`
    # index); reconciliation walks `by_hour` before it. A table created with `by_day`: the epoch.
    ledger_by_day_since: str
    # "<default>,<merchant_id>=<n>,...": order-index shards per merchant (large ones > 1)
    merchant_order_shards: str
    merchant_order_shards_previous: str
    # Risk statistics: a day's decisions spread over this many `stats#<day>#<shard>` items
    risk_stats_shards: int
    risk_stats_shards_previous: int
    # How long a process reuses a merchant's velocity counters (services/risk/signals.py)
    risk_merchant_cache_seconds: int
    sweep_max_items: int
    sweep_max_seconds: int
    return_window_paid_seconds: int
    channel_notify_max_age_seconds: int
    welcome_coupon_fen: int
    welcome_coupon_min_spend_fen: int
    welcome_coupon_valid_seconds: int
    on_time_coupon_after: int
    on_time_coupon_fen: int
    on_time_coupon_min_spend_fen: int
    on_time_coupon_valid_seconds: int
    redemption_enqueue_grace_seconds: int
    reconcile_first_lookback_seconds: int
    reconcile_max_hours_per_run: int
    reconcile_margin_seconds: int  # the last seconds before now are left to the next run
    collection_query_seconds: int
    payout_cutoff_hour_cn: int
    payout_query_seconds: int
    closed_account_retention_seconds: int
    # After-sale (SPEC 'After-sale'): the merchant answers, the goods go back, they arrive.
    aftersale_answer_seconds: int
    aftersale_ship_back_seconds: int
    aftersale_arrival_seconds: int
    dispute_window_seconds: int
    # Account closure and after-sale limits (SPEC, third release).
    dispute_decision_seconds: int
    exchanges_per_line_max: int
    # Installments (SPEC 'Installments'): "<parts>:<fee bps>,..." per plan, the smallest
    # eligible principal, and the reminder's lead before each part's due date.
    installment_plans: str
    installment_min_fen: int
    installment_reminder_lead_seconds: int


_RULE_INTS = [name for name, f in Rules.__dataclass_fields__.items() if f.type in ("int", int)]


@dataclass(frozen=True)
class ChannelSettings:
    """Payment channel ids and endpoints (not secrets: keys come from `Settings.secret`)."""

    notify_base_url: str | None = None  # public base URL the channels call back
    key_dir: str | None = None  # local stage only: where generated sandbox keys live
    alipay_app_id: str | None = None
    alipay_gateway_url: str | None = None
    alipay_seller_id: str | None = None
    wechatpay_app_id: str | None = None
    wechatpay_mch_id: str | None = None
    wechatpay_mch_serial: str | None = None
    # The platform certificate / public key serials we accept (a second one while WeChat Pay
    # rotates its key); the first is the one whose key is `WECHATPAY_PLATFORM_PUBLIC_KEY`.
    wechatpay_platform_serials: tuple[str, ...] = ()
    wechatpay_api_base: str | None = None
    card_gateway_url: str | None = None
    http_timeout_seconds: int = 5


@dataclass(frozen=True)
class WebhookSettings:
    """Merchant webhooks (SPEC.md "Merchant webhooks"); durations in seconds."""

    retry_schedule: tuple[int, ...]  # the wait before each retry
    jitter_percent: int
    timeout_seconds: int
    disable_after_seconds: int  # an endpoint failing this long is disabled
    max_endpoints: int
    roll_overlap_seconds: int  # the old secret keeps signing this long by default
    roll_overlap_max_seconds: int
    max_previous_secrets: int  # rolled secrets still signing beside the current one, at most
    answer_bytes: int  # the part of an answer the log keeps


def _webhooks(env: dict[str, str]) -> WebhookSettings:
    try:
        schedule = tuple(int(part) for part in _req(env, "WEBHOOK_RETRY_SCHEDULE").split(","))
    except ValueError as exc:
        raise ConfigError("setting WEBHOOK_RETRY_SCHEDULE must be seconds separated by commas") from exc
    return WebhookSettings(
        retry_schedule=schedule,
        jitter_percent=_int(env, "WEBHOOK_JITTER_PERCENT"),
        timeout_seconds=_int(env, "WEBHOOK_TIMEOUT_SECONDS"),
        disable_after_seconds=_int(env, "WEBHOOK_DISABLE_AFTER_SECONDS"),
        max_endpoints=_int(env, "WEBHOOK_MAX_ENDPOINTS"),
        roll_overlap_seconds=_int(env, "WEBHOOK_ROLL_OVERLAP_SECONDS"),
        roll_overlap_max_seconds=_int(env, "WEBHOOK_ROLL_OVERLAP_MAX_SECONDS"),
        max_previous_secrets=_int(env, "WEBHOOK_MAX_PREVIOUS_SECRETS"),
        answer_bytes=_int(env, "WEBHOOK_ANSWER_BYTES"),
    )


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    table_prefix: str
    review_queue_name: str
    review_dlq_name: str
    dynamodb_endpoint: str | None
    sqs_endpoint: str | None
    jwt_issuer: str
    jwt_audience: str
    jwt_roles_claim: str
    jwt_jwks_url: str | None
    local_jwt_key_file: str | None
    channel_sandbox: bool
    rules: Rules
    webhooks: WebhookSettings
    _secrets: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    pii_secret_arn: str | None = None
    notification_topic_arn: str | None = None
    channels: ChannelSettings = field(default_factory=ChannelSettings)
    # The web console's origin when it is served from elsewhere (CORS); unset: no CORS.
    console_origin: str | None = None
    # Deployed stages: the console signs in through this Cognito hosted UI domain and app
    # client (authorization code + PKCE); its ID tokens carry the client id as audience.
    console_cognito_domain: str | None = None
    console_client_id: str | None = None

    @property
    def jwt_audiences(self) -> list[str]:
        """Audiences a token may name: the app's client, and the console's when it has its own."""
        return [self.jwt_audience, *([self.console_client_id] if self.console_client_id else [])]

    @property
    def webhook_queue_name(self) -> str:
        return f"{self.table_prefix}-webhook-delivery"

    @property
    def webhook_dlq_name(self) -> str:
        return f"{self.table_prefix}-webhook-delivery-dlq"

    @property
    def is_local(self) -> bool:
        return self.stage == "local"

    def table(self, name: str) -> str:
        return f"{self.table_prefix}-{name}"

    def secret(self, name: str) -> str:
        """A secret from the environment, or from the stage's Secrets Manager secret."""
        if name in self._secrets:
            return self._secrets[name]
        value = os.environ.get(name)
        if not value and self.pii_secret_arn:
            value = _load_secret_json(self.pii_secret_arn, self.region).get(name)
        if not value:
            raise ConfigError(f"missing secret {name}")
        self._secrets[name] = value
        return value

    def secret_bytes(self, name: str) -> bytes:
        raw = self.secret(name)
        try:
            return base64.b64decode(raw, validate=True)
        except ValueError:
            return raw.encode()


def _load_secret_json(arn: str, region: str) -> dict[str, Any]:
    import boto3  # only deployed stages read Secrets Manager

    client = boto3.client("secretsmanager", region_name=region)
    data: dict[str, Any] = json.loads(client.get_secret_value(SecretId=arn)["SecretString"])
    return data


def load(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    rule_values: dict[str, Any] = {}
    for name in Rules.__dataclass_fields__:
        key = name.upper()
        rule_values[name] = _int(env, key) if name in _RULE_INTS else _req(env, key)
    try:
        datetime.strptime(rule_values["ledger_by_day_since"], "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError as exc:
        raise ConfigError("setting LEDGER_BY_DAY_SINCE must be like 2026-12-07T00:00:00.000000Z") from exc
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "cn-north-1"
    issuer = _req(env, "JWT_ISSUER")
    return Settings(
        stage=_req(env, "STAGE"),
        region=region,
        table_prefix=_req(env, "TABLE_PREFIX"),
        review_queue_name=_req(env, "REVIEW_QUEUE_NAME"),
        review_dlq_name=_req(env, "REVIEW_DLQ_NAME"),
        dynamodb_endpoint=env.get("DYNAMODB_ENDPOINT") or None,
        sqs_endpoint=env.get("SQS_ENDPOINT") or None,
        jwt_issuer=issuer,
        jwt_audience=_req(env, "JWT_AUDIENCE"),
        jwt_roles_claim=_req(env, "JWT_ROLES_CLAIM"),
        jwt_jwks_url=env.get("JWT_JWKS_URL") or f"{issuer}/.well-known/jwks.json",
        local_jwt_key_file=env.get("LOCAL_JWT_KEY_FILE") or None,
        channel_sandbox=env.get("CHANNEL_SANDBOX", "false").lower() == "true",
        rules=Rules(**rule_values),
        webhooks=_webhooks(env),
        pii_secret_arn=env.get("PII_SECRET_ARN") or None,
        notification_topic_arn=env.get("NOTIFICATION_TOPIC_ARN") or None,
        channels=ChannelSettings(
            notify_base_url=env.get("CHANNEL_NOTIFY_BASE_URL") or None,
            key_dir=env.get("CHANNEL_KEY_DIR") or None,
            alipay_app_id=env.get("ALIPAY_APP_ID") or None,
            alipay_gateway_url=env.get("ALIPAY_GATEWAY_URL") or None,
            alipay_seller_id=env.get("ALIPAY_SELLER_ID") or None,
            wechatpay_app_id=env.get("WECHATPAY_APP_ID") or None,
            wechatpay_mch_id=env.get("WECHATPAY_MCH_ID") or None,
            wechatpay_mch_serial=env.get("WECHATPAY_MCH_SERIAL") or None,
            wechatpay_platform_serials=tuple(
                serial.strip() for serial in env.get("WECHATPAY_PLATFORM_SERIALS", "").split(",") if serial.strip()
            ),
            wechatpay_api_base=env.get("WECHATPAY_API_BASE") or None,
            card_gateway_url=env.get("CARD_GATEWAY_URL") or None,
            http_timeout_seconds=int(env.get("CHANNEL_HTTP_TIMEOUT_SECONDS") or "5"),
        ),
        console_origin=env.get("CONSOLE_ORIGIN") or None,
        console_cognito_domain=env.get("CONSOLE_COGNITO_DOMAIN") or None,
        console_client_id=env.get("CONSOLE_CLIENT_ID") or None,
    )


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process-wide settings, read once."""
    return load()


def stage_environment(stage: str, config_path: str | None = None) -> dict[str, str]:
    """The environment `chalice` would give `stage`, read from `.chalice/config.json`.

    Used by the local stack and the tests; deployed Lambdas get it from Chalice.
    """
    path = config_path or os.path.join(os.path.dirname(__file__), "..", ".chalice", "config.json")
    with open(path, encoding="utf-8") as fh:
        cfg = json.load(fh)
    env: dict[str, str] = dict(cfg.get("environment_variables", {}))
    stage_cfg = cfg.get("stages", {}).get(stage)
    if stage_cfg is None:
        raise ConfigError(f"unknown stage {stage}")
    env.update(stage_cfg.get("environment_variables", {}))
    return env
