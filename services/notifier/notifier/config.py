"""The endpoint file (``CAREPATH_NOTIFIER_CONFIG``): where notifications go, how they are signed and retried.

Read and checked once at start-up; a mistake stops the notifier with a message naming the endpoint and
key. Secrets are never in the file: each endpoint names the environment variable that holds its HMAC
secret, and outside development that variable must be set to a strong value: ``whsec_`` and the base64 of
24 to 64 random bytes (the Standard Webhooks form), or a plain string of at least 32 characters.

An endpoint that logs in to its server with OAuth2 (a hospital's FHIR server) has an ``oauth2`` block: the
token endpoint, its client id, and the client's credential by reference, never in the file: a client
secret (``client_secret_env`` or ``client_secret_file``; client credentials grant, RFC 6749 section 4.4)
or a private key with its ``kid`` (``private_key_env`` or ``private_key_file``; SMART Backend Services, a
signed JWT assertion per RFC 7523). See :mod:`notifier.oauth2`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from carepath import yamlfile
from notifier import signing

DEVELOPMENT_SECRET = "dev-only-notifier-secret"  # noqa: S105 - refused in production, see _secret
MIN_SECRET_LENGTH = 32  # characters of a plain secret
MIN_KEY_BYTES, MAX_KEY_BYTES = 24, 64  # of a whsec_ secret, as the Standard Webhooks specification asks
FORMATS = frozenset({"carepath", "fhir"})
SEVERITIES = frozenset({"emergency", "urgent", "routine"})
CHANGES = frozenset({"raised", "updated", "resolved"})
REMINDER_KINDS = frozenset({"warning", "overdue"})
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_ENV = re.compile(r"^[A-Z][A-Z0-9_]{0,127}$")
SECRET_METHODS = frozenset({"client_secret_basic", "client_secret_post"})
KEY_METHOD = "private_key_jwt"
ASSERTION_ALGS = {"RS384": "RSA", "ES384": "EC"}  # the SMART Backend Services algorithms, by key type
MIN_RSA_BITS = 2048


class ConfigError(ValueError):
    """The endpoint file is wrong; the message names the file, endpoint and key."""


@dataclass(frozen=True)
class Retry:
    attempts: int = 8  # in all, the first included
    base_s: float = 1.0  # first backoff ceiling; doubles per attempt
    cap_s: float = 300.0  # largest backoff ceiling


@dataclass(frozen=True)
class EscalationRoute:
    """Which escalations an endpoint receives; None means any."""

    severities: frozenset[str] | None = None
    changes: frozenset[str] | None = None
    rules: frozenset[str] | None = None


@dataclass(frozen=True)
class ReminderRoute:
    """Which reminders an endpoint receives: by kind, chain level, role notified or expectation."""

    kinds: frozenset[str] | None = None
    levels: frozenset[int] | None = None
    min_level: int | None = None
    notify: frozenset[str] | None = None
    expectations: frozenset[str] | None = None


@dataclass(frozen=True)
class OAuth2:
    """How an endpoint obtains its bearer token. ``client_secret`` (client_secret_basic or
    client_secret_post) or ``private_key`` with ``kid`` and ``alg`` (private_key_jwt) is set, never both."""

    token_url: str
    client_id: str
    auth_method: str  # client_secret_basic | client_secret_post | private_key_jwt
    credential_ref: str  # where the credential came from, for messages: "client_secret_env NAME"
    client_secret: str | None = field(default=None, repr=False)
    private_key: RSAKey | ECKey | None = field(default=None, repr=False)
    kid: str | None = None
    alg: str | None = None  # RS384 | ES384
    scope: str | None = None


@dataclass(frozen=True)
class Endpoint:
    name: str
    url: str
    secret_env: str
    secret: bytes = field(repr=False)  # the HMAC key (a whsec_ secret decoded)
    format: str = "carepath"
    timeout_s: float = 10.0
    concurrency: int = 4
    retry: Retry = Retry()
    escalations: EscalationRoute | None = None  # None: no escalations
    reminders: ReminderRoute | None = None  # None: no reminders
    legacy_signature: bool = False  # also send X-Carepath-Timestamp and X-Carepath-Signature
    previous_secret: bytes | None = field(default=None, repr=False)  # also signed with, while rotating
    oauth2: OAuth2 | None = None  # a bearer token from this token endpoint on every request


_ENDPOINT_KEYS = frozenset(
    {
        "name",
        "url",
        "secret_env",
        "format",
        "timeout_s",
        "concurrency",
        "retry",
        "receive",
        "insecure_http",
        "legacy_signature",
        "previous_secret_env",
        "oauth2",
    }
)
_OAUTH2_KEYS = frozenset(
    {
        "token_url",
        "client_id",
        "client_secret_env",
        "client_secret_file",
        "private_key_env",
        "private_key_file",
        "kid",
        "alg",
        "token_endpoint_auth_method",
        "scope",
    }
)
_CREDENTIAL_KEYS = ("client_secret_env", "client_secret_file", "private_key_env", "private_key_file")


def load_endpoints(path: Path, environment: str, env: Mapping[str, str]) -> tuple[Endpoint, ...]:
    """Read the endpoint file; ``env`` supplies the secrets (the process environment in production)."""
    try:
        doc = yamlfile.load(path, "notifier-endpoints")
    except yamlfile.YamlFileError as exc:
        raise ConfigError(str(exc)) from None
    if not isinstance(doc, dict) or set(doc) - {"endpoints"}:
        raise ConfigError(f"{path}: expected a mapping with one key, endpoints")
    raw_endpoints = doc.get("endpoints") or []
    if not isinstance(raw_endpoints, list):
        raise ConfigError(f"{path}: endpoints must be a list")
    endpoints = [_endpoint(path, i, raw, environment, env) for i, raw in enumerate(raw_endpoints)]
    names = [e.name for e in endpoints]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: endpoint names must be unique: {sorted(names)}")
    return tuple(endpoints)


def _endpoint(path: Path, index: int, raw: Any, environment: str, env: Mapping[str, str]) -> Endpoint:
    where = f"{path}: endpoints[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{where}: name must be lower-case letters, digits, - or _ (it is a metric label)")
    where = f"{path}: endpoint {name}"
    unknown = set(raw) - _ENDPOINT_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
    insecure_http = bool(raw.get("insecure_http", False))
    url = _url(where, raw.get("url"), environment, insecure_http)
    secret_env = raw.get("secret_env")
    if not isinstance(secret_env, str) or not _ENV.match(secret_env):
        raise ConfigError(
            f"{where}: secret_env must name an environment variable (e.g. CAREPATH_NOTIFIER_SECRET_PAGER)"
        )
    fmt = raw.get("format", "carepath")
    if fmt not in FORMATS:
        raise ConfigError(f"{where}: format must be one of {sorted(FORMATS)}")
    previous_env = raw.get("previous_secret_env")
    if previous_env is not None and (
        not isinstance(previous_env, str) or not _ENV.match(previous_env) or previous_env == secret_env
    ):
        raise ConfigError(f"{where}: previous_secret_env must name another environment variable")
    legacy = raw.get("legacy_signature", False)
    if not isinstance(legacy, bool):
        raise ConfigError(f"{where}: legacy_signature must be true or false")
    receive = raw.get("receive")
    if not isinstance(receive, dict) or not receive or set(receive) - {"escalations", "reminders"}:
        raise ConfigError(f"{where}: receive must hold escalations and/or reminders")
    return Endpoint(
        name=name,
        url=url,
        secret_env=secret_env,
        secret=_secret(where, secret_env, environment, env),
        format=str(fmt),
        timeout_s=_number(where, raw, "timeout_s", 10.0, 0.1, 120.0),
        concurrency=int(_number(where, raw, "concurrency", 4, 1, 64, integer=True)),
        retry=_retry(where, raw.get("retry", {})),
        escalations=_escalations(where, receive["escalations"]) if "escalations" in receive else None,
        reminders=_reminders(where, receive["reminders"]) if "reminders" in receive else None,
        legacy_signature=legacy,
        previous_secret=_secret(where, previous_env, environment, env, fallback=False)
        if previous_env
        else None,
        oauth2=_oauth2(where, raw["oauth2"], environment, env, insecure_http) if "oauth2" in raw else None,
    )


def _url(where: str, url: Any, environment: str, insecure_http: bool, key: str = "url") -> str:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}: {key} must be an http(s) URL")
    if environment == "production" and parts.scheme != "https" and not insecure_http:
        raise ConfigError(
            f"{where}: {key} must use https in production (or set insecure_http: true explicitly)"
        )
    assert isinstance(url, str)
    return url


def _secret(
    where: str, name: str, environment: str, env: Mapping[str, str], *, fallback: bool = True
) -> bytes:
    """The endpoint's HMAC key from the variable ``name``: decoded when it is a ``whsec_`` secret."""
    value = env.get(name, "")
    if fallback and environment == "development" and not value:  # the only place a secret may be left out
        value = DEVELOPMENT_SECRET
    if not value:
        raise ConfigError(f"{where}: {name} must hold the endpoint's HMAC secret")
    try:
        key = signing.key(value)
    except ValueError:
        raise ConfigError(f"{where}: {name} must be whsec_ followed by base64") from None
    if not key:
        raise ConfigError(f"{where}: {name} must hold the endpoint's HMAC secret")
    if environment != "production":
        return key
    standard = value.startswith(signing.SECRET_PREFIX)
    if standard and not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise ConfigError(
            f"{where}: {name} must hold the endpoint's HMAC secret: whsec_ and the base64 of "
            f"{MIN_KEY_BYTES} to {MAX_KEY_BYTES} random bytes"
        )
    if not standard and (len(value) < MIN_SECRET_LENGTH or value == DEVELOPMENT_SECRET):
        raise ConfigError(
            f"{where}: {name} must hold the endpoint's HMAC secret, at least {MIN_SECRET_LENGTH} characters"
            f" (or whsec_ and the base64 of {MIN_KEY_BYTES} to {MAX_KEY_BYTES} random bytes)"
        )
    return key


def _oauth2(where: str, raw: Any, environment: str, env: Mapping[str, str], insecure_http: bool) -> OAuth2:
    """The ``oauth2`` block: the credential is read here, from the variable or file it names; a missing,
    empty or unusable credential stops start-up naming the reference, never showing the value."""
    where = f"{where} oauth2"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping")
    unknown = set(raw) - _OAUTH2_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
    token_url = _url(where, raw.get("token_url"), environment, insecure_http, key="token_url")
    client_id = raw.get("client_id")
    if not isinstance(client_id, str) or not client_id.strip():
        raise ConfigError(f"{where}: client_id must be the client's id at the token endpoint")
    given = [k for k in _CREDENTIAL_KEYS if k in raw]
    if len(given) != 1:
        raise ConfigError(
            f"{where}: give exactly one of {', '.join(_CREDENTIAL_KEYS)} (the credential, by reference)"
        )
    [ref_key] = given
    ref = raw[ref_key]
    credential_ref = f"{ref_key} {ref}"
    value = _credential(where, ref_key, ref, env)
    scope = raw.get("scope")
    if scope is not None and (not isinstance(scope, str) or not scope.strip()):
        raise ConfigError(f"{where}: scope must be the space-separated scopes to ask for")
    scope = " ".join(scope.split()) if scope else None
    method = raw.get("token_endpoint_auth_method")
    if ref_key.startswith("client_secret"):
        method = method or "client_secret_basic"
        if method not in SECRET_METHODS:
            raise ConfigError(
                f"{where}: token_endpoint_auth_method for a client secret is client_secret_basic or "
                "client_secret_post"
            )
        for key in ("kid", "alg"):
            if key in raw:
                raise ConfigError(f"{where}: {key} is for a private key, not a client secret")
        return OAuth2(token_url, client_id, method, credential_ref, client_secret=value, scope=scope)
    if method not in (None, KEY_METHOD):
        raise ConfigError(f"{where}: token_endpoint_auth_method for a private key is {KEY_METHOD}")
    kid = raw.get("kid")
    if not isinstance(kid, str) or not kid.strip():
        raise ConfigError(f"{where}: kid must name the key as the token endpoint knows it (its JWKS kid)")
    private_key, alg = _private_key(where, ref_key, value, raw.get("alg"))
    return OAuth2(
        token_url,
        client_id,
        KEY_METHOD,
        credential_ref,
        private_key=private_key,
        kid=kid,
        alg=alg,
        scope=scope,
    )


def _credential(where: str, ref_key: str, ref: Any, env: Mapping[str, str]) -> str:
    if ref_key.endswith("_env"):
        if not isinstance(ref, str) or not _ENV.match(ref):
            raise ConfigError(f"{where}: {ref_key} must name an environment variable")
        value = env.get(ref, "")
    else:
        if not isinstance(ref, str) or not ref.strip():
            raise ConfigError(f"{where}: {ref_key} must be a file path")
        try:
            value = Path(ref).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{where}: {ref_key} {ref} cannot be read ({type(exc).__name__})") from None
    what = "the client secret" if ref_key.startswith("client_secret") else "a PEM private key"
    if not value.strip():
        raise ConfigError(f"{where}: {ref_key} {ref} must hold {what}")
    return value.strip() if ref_key.startswith("client_secret") else value


def _private_key(where: str, ref_key: str, pem: str, alg: Any) -> tuple[RSAKey | ECKey, str]:
    """The assertion key and its algorithm: RS384 for an RSA key of 2048 bits or more, ES384 for a P-384
    key (the algorithms SMART Backend Services asks servers to support)."""
    if alg is not None and alg not in ASSERTION_ALGS:
        raise ConfigError(f"{where}: alg must be one of {sorted(ASSERTION_ALGS)}")
    key: RSAKey | ECKey
    try:
        try:
            key = RSAKey.import_key(pem)
        except (JoseError, ValueError, TypeError):
            key = ECKey.import_key(pem)
    except (JoseError, ValueError, TypeError):
        raise ConfigError(f"{where}: {ref_key} must hold a PEM RSA or EC private key") from None
    if not key.is_private:
        raise ConfigError(f"{where}: {ref_key} holds a public key; the private key is needed")
    if isinstance(key, RSAKey):
        bits = key.raw_value.key_size
        if bits < MIN_RSA_BITS:
            raise ConfigError(f"{where}: {ref_key} holds an RSA key of {bits} bits; {MIN_RSA_BITS} at least")
        derived = "RS384"
    else:
        if key.curve_name != "P-384":
            raise ConfigError(f"{where}: {ref_key} holds an EC key on {key.curve_name}; ES384 needs P-384")
        derived = "ES384"
    if alg is not None and alg != derived:
        raise ConfigError(f"{where}: alg {alg} does not fit the key in {ref_key} ({derived} does)")
    return key, derived


def _number(
    where: str,
    raw: Mapping[str, Any],
    key: str,
    default: float,
    low: float,
    high: float,
    *,
    integer: bool = False,
) -> float:
    value = raw.get(key, default)
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok or not low <= value <= high:
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"{where}: {key} must be {kind} from {low:g} to {high:g}")
    return float(value)


def _retry(where: str, raw: Any) -> Retry:
    if not isinstance(raw, dict) or set(raw) - {"attempts", "base_s", "cap_s"}:
        raise ConfigError(f"{where}: retry takes attempts, base_s and cap_s")
    retry = Retry(
        attempts=int(_number(where + " retry", raw, "attempts", Retry.attempts, 1, 100, integer=True)),
        base_s=_number(where + " retry", raw, "base_s", Retry.base_s, 0.001, 3600),
        cap_s=_number(where + " retry", raw, "cap_s", Retry.cap_s, 0.001, 86400),
    )
    if retry.cap_s < retry.base_s:
        raise ConfigError(f"{where}: retry cap_s must be at least base_s")
    return retry


def _choices(
    where: str, raw: Mapping[str, Any], key: str, allowed: frozenset[str] | None
) -> frozenset[str] | None:
    if key not in raw:
        return None
    values = raw[key]
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{where}: {key} must be a non-empty list")
    if allowed is not None and set(values) - allowed:
        raise ConfigError(f"{where}: {key} {sorted(set(values) - allowed)} not in {sorted(allowed)}")
    return frozenset(values)


def _escalations(where: str, raw: Any) -> EscalationRoute:
    raw = raw or {}
    if not isinstance(raw, dict) or set(raw) - {"severities", "changes", "rules"}:
        raise ConfigError(f"{where}: receive.escalations takes severities, changes and rules")
    return EscalationRoute(
        severities=_choices(where, raw, "severities", SEVERITIES),
        changes=_choices(where, raw, "changes", CHANGES),
        rules=_choices(where, raw, "rules", None),
    )


def _reminders(where: str, raw: Any) -> ReminderRoute:
    raw = raw or {}
    if not isinstance(raw, dict) or set(raw) - {"kinds", "levels", "min_level", "notify", "expectations"}:
        raise ConfigError(
            f"{where}: receive.reminders takes kinds, levels, min_level, notify and expectations"
        )
    levels = raw.get("levels")
    if levels is not None and (
        not isinstance(levels, list)
        or not levels
        or not all(isinstance(v, int) and 1 <= v <= 20 for v in levels)
    ):
        raise ConfigError(f"{where}: receive.reminders.levels must be a list of chain levels 1-20")
    min_level = raw.get("min_level")
    if min_level is not None and not (isinstance(min_level, int) and 1 <= min_level <= 20):
        raise ConfigError(f"{where}: receive.reminders.min_level must be a chain level 1-20")
    return ReminderRoute(
        kinds=_choices(where, raw, "kinds", REMINDER_KINDS),
        levels=frozenset(levels) if levels is not None else None,
        min_level=min_level,
        notify=_choices(where, raw, "notify", None),
        expectations=_choices(where, raw, "expectations", None),
    )
