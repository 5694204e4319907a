"""Authentication for the Schemathesis run of the test suite.

Every operation that takes a session gets `Authorization: Bearer <session token>`, the
token of a password login by the account the test created (an administrator, so that the
admin operations are exercised past their permission checks). The operations that end
the session they are called with (`/logout`, `DELETE /login`, `DELETE /session`) get a
fresh session of their own.

Some operations end the shared session too: `DELETE /sessions` ends every other session
of its caller, and the admin API may end the account's sessions when Schemathesis reuses
its login from an earlier answer. Their 401s are right; the session is logged in again
after any 401 answered to it, so that the rest of the run keeps reaching the operations.

Operations that take HTTP Basic get the account's login with its password (the login
endpoints), or with its client secret (the OAuth2 endpoints), so that their successful
answers are checked too.

The test passes the server, the base path and the account in the environment.
"""

import base64
import json
import os
import threading
import urllib.error
import urllib.request

import schemathesis

SERVER = os.environ["TESSERA_FUZZ_SERVER"]
BASE = os.environ["TESSERA_FUZZ_BASE"]
LOGIN = os.environ["TESSERA_FUZZ_LOGIN"]
PASSWORD = os.environ["TESSERA_FUZZ_PASSWORD"]

_lock = threading.Lock()
_shared = None
_client_secret = None


def login():
    body = json.dumps({"username": LOGIN, "password": PASSWORD}).encode()
    request = urllib.request.Request(
        f"{SERVER}{BASE}/login",
        data=body,
        headers={"Content-Type": "application/json", "Accept": "text/plain"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read().decode().strip()
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"login of {LOGIN}: {e.code} {e.read().decode()}") from None


def shared_session():
    global _shared
    with _lock:
        if _shared is None:
            _shared = login()
        return _shared


def client_secret():
    global _client_secret
    with _lock:
        if _client_secret is None:
            request = urllib.request.Request(
                f"{SERVER}{BASE}/client-secret",
                headers={"Authorization": f"Bearer {login()}"},
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                _client_secret = json.load(response)["secret"]
        return _client_secret


def takes(case, scheme):
    """The operation's security lists `scheme`."""
    security = case.operation.definition.raw.get("security") or []
    return any(scheme in requirement for requirement in security)


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def ends_its_session(case):
    path = case.operation.path[len(BASE):]
    method = case.operation.method.upper()
    return path == "/logout" or (method == "DELETE" and path in ("/login", "/session"))


@schemathesis.auth(refresh_interval=None, retry_on=[])
class TesseraSession:
    def get(self, case, context):
        # The token is chosen per operation in `set`.
        return "per-operation"

    def set(self, case, token, context):
        path = case.operation.path[len(BASE):]
        if takes(case, "sessionToken"):
            token = login() if ends_its_session(case) else shared_session()
            authorization = f"Bearer {token}"
        elif takes(case, "basic") and path.startswith("/oauth/"):
            authorization = basic(LOGIN, client_secret())
        elif takes(case, "basic") and path == "/login":
            authorization = basic(LOGIN, PASSWORD)
        else:
            return
        case.headers = case.headers or {}
        case.headers["Authorization"] = authorization


@schemathesis.hook
def after_call(context, case, response):
    """Forgets the shared session, or the client secret (which `POST /client-secret/rotate`
    replaces), once the server refuses it."""
    global _shared, _client_secret
    if response.status_code != 401:
        return
    sent = (case.headers or {}).get("Authorization", "")
    with _lock:
        if _shared is not None and sent == f"Bearer {_shared}":
            _shared = None
        if _client_secret is not None and sent == basic(LOGIN, _client_secret):
            _client_secret = None
