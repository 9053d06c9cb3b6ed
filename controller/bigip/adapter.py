"""The BIG-IP adapter: the only module that talks iControl REST (through bigrest 1.7.3).

What it adds on top of bigrest, and why (bug numbers refer to ICONTROL-NOTES.md):

- Construction makes no network call. bigrest's constructor GETs echo-query with basic auth
  before the session can be configured; `_Device` skips that, and the client logs in itself.
- One token for the whole process (B6): login once via /mgmt/shared/authn/login, reuse it,
  replace it shortly before it expires (the old one is deleted), log in again and retry once
  when the device says the token expired or does not exist (B7), delete it on close().
- TLS settings win over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (B5): `trust_env` is off and
  `verify` is set explicitly; proxies from the environment are still honoured.
- Errors are classified at the boundary (B3): status and mcpd code are parsed out of
  RESTAPIError's text, requests' exceptions become BigipRetryable.
- Every answer is checked before bigrest or requests act on it (bigip/replies.py): a 3xx is
  BigipRedirected and never followed (requests would send the token header, and for 307/308
  a login's password, to the Location); a 2xx that is not a JSON object is BigipMalformed.
  A response hook checks them, except for collection pages and writes, which are sent here:
  a page is checked after its bytes were compared with the last read's, a write's answer
  (an echo of what was stored) is parsed but not built. Items read back are decoded here (a
  page read again byte for byte is not parsed, an item read unchanged is not decoded again:
  core/read_memo.py), so an item the core cannot read is BigipMalformed naming the request
  and the field, never a KeyError in the run.
- Transactions never commit when building them failed (B2): no `with device:`; the header is
  always removed afterwards, so nothing later leaks into an abandoned transaction (B13).
- Empty collections read as [] (B4). Each HTTP exchange is counted once by a response hook.
- Not thread-safe (bigrest keeps transaction state on the shared session, B11): one caller
  at a time (a read fetches its next page in a thread of its own: reads.pages).
"""

from __future__ import annotations

import functools
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import requests
from bigrest.bigip import BIGIP
from bigrest.common.exceptions import RESTAPIError

from controller.bigip.connection import connection_error, device_address, tls_verify
from controller.bigip.reads import (
    REPEATED_PAGE,
    Fetched,
    check_partition,
    collection_reads,
    item_kind_marks,
    page_read,
    pages,
)
from controller.bigip.replies import (
    BadReply,
    Failure,
    check_reply_hook,
    classify,
    message_and_code,
    parse_restapi_error,
    refuse_redirect,
    token_from_login,
    token_gone,
    transaction_id,
    unread_object_problem,
)
from controller.core import model
from controller.core.member_health import MemberId
from controller.core.plan import Change, summary
from controller.core.read_memo import FreshPage, Page, ReadMemo
from controller.core.view import held_copy
from controller.core.writes import Write, writes_of
from controller.errors import (
    BigipError,
    BigipMalformed,
    BigipNotFound,
    BigipRedirected,
    BigipRetryable,
    IcontrolJsonError,
)
from controller.settings import BigipSettings

log = logging.getLogger(__name__)

T = TypeVar("T")
Known = Mapping[model.ObjectKey, model.BigipObject] | None

Observer = Callable[[str, int, float], None]

LOGIN_PATH = "/mgmt/shared/authn/login"
TOKENS_PATH = "/mgmt/shared/authz/tokens"
TRANSACTION_PATH = "/mgmt/tm/transaction"
AUTH_HEADER = "X-F5-Auth-Token"
TRANSACTION_HEADER = "X-F5-REST-Coordination-Id"

# A token is replaced when less than this share of its lifetime remains (at most 60 s), so a
# run never starts with a token that dies half-way through its transaction.
REFRESH_SHARE = 0.1
REFRESH_MAX_SECONDS = 60.0


class _Device(BIGIP):  # type: ignore[misc]
    """bigrest's BIGIP without the network call its constructor makes.

    The client configures TLS, proxies and auth on the session first and logs in itself.
    """

    def _connect(self) -> None:
        pass


class BigipClient:
    """One authenticated iControl REST session for the whole process."""

    def __init__(self, settings: BigipSettings, *, observer: Observer | None = None) -> None:
        self._settings = settings
        self._observer = observer
        self.requests: Counter[tuple[str, int]] = Counter()
        self._token = ""
        self._token_deadline = 0.0  # time.monotonic() when the token expires
        self._token_lifetime = 0.0
        # (pool, member) -> health, from the last pool read (core.member_health)
        self.member_states: dict[MemberId, str] = {}
        # Items read again unchanged are not decoded again (core/read_memo.py).
        self.memo = ReadMemo()
        self._device = self._make_device(settings)

    # ----------------------------------------------------------------------- session set-up

    def _make_device(self, settings: BigipSettings) -> _Device:
        address = device_address(settings.url)
        # No username/password: bigrest never holds the password and never sends basic auth.
        device = _Device(address, session_verify=True, timeout=settings.timeout)
        session: requests.Session = device.session
        session.auth = None
        # requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override session.verify unless
        # trust_env is off (B5); the settings must win.
        session.trust_env = False
        session.verify = tls_verify(settings)
        session.proxies.update(requests.utils.get_environ_proxies(settings.url))
        # Counted first, then checked: the check raises on a redirect before requests would
        # follow it (max_redirects 0 is the second lock) and on a body bigrest cannot read.
        session.hooks["response"].extend([self._on_response, check_reply_hook])
        session.max_redirects = 0
        if settings.insecure:
            log.warning("TLS verification of %s is OFF (insecure); use only in labs", address)
        return device

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        method = str(response.request.method or "")
        self._record(method, response.status_code, response.elapsed.total_seconds())

    def _record(self, method: str, status: int, seconds: float) -> None:
        self.requests[(method, status)] += 1
        if self._observer is not None:
            try:
                self._observer(method, status, seconds)
            except Exception:  # a metrics bug must not break a sync
                log.exception("request observer failed")

    # ----------------------------------------------------------------------- auth

    def login(self) -> None:
        """Log in and keep the token. A token held before is deleted on the device."""
        old = self._token
        body = {
            "username": self._settings.username,
            "password": self._settings.password,
            "loginProviderName": "tmos",
        }
        what = f"login as {self._settings.username!r}"
        data = self._raw("POST", LOGIN_PATH, what, json_body=body, with_token=False)
        try:
            token, lifetime = token_from_login(data)
        except BadReply as bad:
            raise self._bad_reply(bad, "POST", LOGIN_PATH, what) from None
        self._token = token
        self.memo.forget()  # a new session may be a restarted device: trust no stamp across it
        self._token_lifetime = lifetime
        self._token_deadline = time.monotonic() + lifetime
        self._device.session.headers[AUTH_HEADER] = token
        log.info("logged in to %s as %s", self._device.device, self._settings.username)
        if old:
            self._delete_token(old)

    def close(self) -> None:
        """Delete the token on the device and close the session. Safe to call twice."""
        if self._token:
            self._delete_token(self._token)
            self._token = ""
            self._device.session.headers.pop(AUTH_HEADER, None)
        self._device.session.close()

    def __enter__(self) -> BigipClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _delete_token(self, token: str) -> None:
        # The path is logged and put in errors with the token masked: a token is a credential.
        try:
            self._raw(
                "DELETE",
                f"{TOKENS_PATH}/{token}",
                "log out (delete a token)",
                shown_path=f"{TOKENS_PATH}/<token>",
            )
        except BigipError as exc:
            # It expires on its own; a failed logout must not fail the caller.
            log.warning("could not delete a token on the device: %s", exc)

    def _ensure_token(self) -> None:
        if not self._token:
            self.login()
            return
        margin = min(REFRESH_MAX_SECONDS, self._token_lifetime * REFRESH_SHARE)
        if time.monotonic() >= self._token_deadline - margin:
            log.info("token expires soon; logging in again")
            self.login()

    def _raw(
        self,
        method: str,
        path: str,
        what: str,
        *,
        json_body: dict[str, Any] | None = None,
        with_token: bool = True,
        shown_path: str = "",
    ) -> Any:
        """Auth plumbing outside bigrest: never inside a transaction, basic auth only to log in."""
        session: requests.Session = self._device.session
        headers: dict[str, str | None] = {TRANSACTION_HEADER: None}
        if not with_token:
            # The login carries the credentials in its body only (as F5's own clients do),
            # so the password travels in one place and basic auth is never used.
            headers[AUTH_HEADER] = None
        url = f"https://{self._device.device}{path}"
        shown = shown_path or path
        started = time.monotonic()
        try:
            response = session.request(
                method,
                url,
                json=json_body,
                headers=headers,  # type: ignore[arg-type]  # None removes a session header
                timeout=self._settings.timeout,
            )
        except BadReply as bad:  # from the response hook: checked, counted
            raise self._bad_reply(bad, method, shown, what) from None
        except requests.RequestException as exc:
            self._record(method, 0, time.monotonic() - started)
            raise connection_error(exc, method, shown, what, self._settings.timeout) from None
        if response.status_code != 200:
            failure = Failure(response.status_code, *message_and_code(response.text))
            raise classify(self._redact(failure), method, shown, what)
        # The hook made sure a non-empty 200 is a JSON object.
        return response.json() if response.content else None

    def _redact(self, failure: Failure) -> Failure:
        return Failure(failure.status, self._redacted(failure.message), failure.code)

    def _redacted(self, message: str) -> str:
        """Devices echo request bodies in some errors; the password must never get out."""
        for secret in (self._settings.password, self._token):
            if secret:
                message = message.replace(secret, "***")
        return message

    def _bad_reply(self, bad: BadReply, method: str, path: str, what: str) -> BigipError:
        shown = path.split("?", 1)[0]  # the query is in `what` already ("in partition P")
        text = f"{what}: {method} {shown}: {self._redacted(bad.problem)}"
        cls = BigipRedirected if bad.redirect else BigipMalformed
        return cls(text, status=bad.status, method=method, path=path)

    # ----------------------------------------------------------------------- calls

    def _call(self, method: str, path: str, what: str, action: Callable[[], T]) -> T:
        """Run one bigrest call (one HTTP exchange): classify errors, re-login once on a dead
        token."""
        self._ensure_token()
        for attempt in (1, 2):
            started = time.monotonic()
            try:
                return action()
            except BadReply as bad:  # from the response hook, before bigrest read the body
                raise self._bad_reply(bad, method, path, what) from None
            except RESTAPIError as exc:
                failure = self._redact(parse_restapi_error(str(exc)))
                if attempt == 1 and token_gone(failure):
                    log.info("token rejected (%s); logging in again", failure.message)
                    self._token = ""  # dead already: nothing to delete
                    self.login()
                    continue
                raise classify(failure, method, path, what) from None
            except requests.exceptions.JSONDecodeError:
                # A 200 with an empty body where bigrest wants JSON (the hook lets an empty
                # body through: DELETE answers one). Both a ValueError and a
                # RequestException: caught first, the response hook has already counted it.
                empty = BadReply(200, "reply is empty where JSON was expected")
                raise self._bad_reply(empty, method, path, what) from None
            except requests.RequestException as exc:
                self._record(method, 0, time.monotonic() - started)
                raise connection_error(exc, method, path, what, self._settings.timeout) from None
        raise AssertionError("unreachable")

    def ping(self) -> None:
        """One cheap authenticated GET; a BigipError subclass when the device is not usable."""
        path = "/mgmt/shared/echo-query"
        self._call("GET", path, "ping", lambda: self._device.load(path))

    def ensure_partition(self, partition: str) -> None:
        """Create the partition when it is missing (one GET when it exists)."""
        check_partition(partition)
        path = f"/mgmt/tm/auth/partition/{partition}"
        what = f"partition {partition}"
        try:
            self._call("GET", path, what, lambda: self._device.load(path))
            return
        except BigipNotFound:
            pass
        self._call(
            "POST",
            "/mgmt/tm/auth/partition",
            what,
            lambda: self._device.create("/mgmt/tm/auth/partition", {"name": partition}),
        )
        log.info("created partition %s", partition)

    def read(self, partition: str, collections: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """Every item of `partition` in each collection, subcollections expanded: one GET per
        collection however many objects there are (model.COMMON_ONLY ones: of /Common).

        Every item has been decoded once, so model.objects_from_collections cannot fail on
        the result; an item it could not read is BigipMalformed naming the request."""
        result: dict[str, list[dict[str, Any]]] = {}
        for collection, path, what in collection_reads(partition, collections):
            pages = list(self._pages(collection, path, what, {}, reuse=False))
            self._decoded(collection, pages, path, what, {})  # Mappings: decoding checked
            result[collection] = [
                dict(i) for p in pages if isinstance(p, FreshPage) for i in p.items
            ]
        return result

    def read_objects(
        self, partition: str, collections: Iterable[str], known: Known = None
    ) -> list[model.BigipObject]:
        """The model objects in what `read` reads (the same requests), decoded once; one equal
        to an object of `known` (the cache) is that object: in sync, no second copy is held.
        One page is alive at a time."""
        objects: list[model.BigipObject] = []
        for collection, path, what in collection_reads(partition, collections):
            states: dict[MemberId, str] = {}
            pages = self._pages(collection, path, what, states)
            objects += self._decoded(collection, pages, path, what, known)
            if collection == "ltm/pool":
                self.member_states = states  # health comes with the pool read, no request
        return objects

    def _pages(
        self, collection: str, path: str, what: str, health: dict[MemberId, str], reuse: bool = True
    ) -> Iterator[Page]:
        """A collection a page at a time ($top/$skip, as f5-ansible pages; reads.pages)."""
        size, memo = self._settings.read_page_size, self.memo if reuse else None

        def fetch(at: int) -> Fetched:
            url = f"{path}&$top={size}&$skip={at}"
            return url, self._call("GET", url, what, functools.partial(self._get_page, url))

        def page_of(fetched: Fetched) -> Page:
            try:
                return page_read(collection, *fetched, memo)
            except BadReply as bad:
                raise self._bad_reply(bad, "GET", fetched[0], what) from None

        def repeated(at: int) -> BigipError:
            bad = BadReply(200, REPEATED_PAGE)
            return self._bad_reply(bad, "GET", f"{path}&$top={size}&$skip={at}", what)

        for page in pages(fetch, page_of, size, repeated, item_kind_marks(collection)):
            health.update(page.facts or {})
            yield page

    def _get_page(self, path: str) -> requests.Response:
        """One page GET, made here rather than by bigrest so that a body with the bytes of the
        page read last time is recognised before it is parsed (core/read_memo.py)."""
        response = self._device.session.get(
            f"https://{self._device.device}{path}",
            timeout=self._settings.timeout,
            # In place of the session's hooks: counted, a redirect refused; checked later.
            hooks={"response": [self._on_response, refuse_redirect]},
        )
        if response.status_code != 200:
            raise RESTAPIError(response, None)  # as bigrest raises it: _call classifies it
        return response

    def _decoded(
        self, collection: str, pages: Iterable[Page], path: str, what: str, cache: Known
    ) -> list[model.BigipObject]:
        try:
            return self.memo.objects(collection, pages, lambda o: held_copy(cache or {}, o))
        except IcontrolJsonError as error:
            raise self._bad_reply(BadReply(200, str(error)), "GET", path, what) from None

    # ----------------------------------------------------------------------- writes

    def apply(self, changes: Sequence[Change]) -> None:
        """Write `changes` (already ordered) atomically: one request per change, but a pool
        created here takes its new members in its POST (core/writes.py). More than one change
        goes in a transaction (W requests cost W + 2); a single change is sent on its own."""
        if not changes:
            return
        writes = writes_of(changes)
        if len(changes) == 1:
            self._send(next(writes))
            return
        trans_id = self._start_transaction(len(changes))
        try:
            for write in writes:
                self._send(write)
        except BaseException:
            # Never commit a half-built transaction (B2). The device drops it after its
            # timeout anyway; deleting it only frees it sooner.
            self._device.session.headers.pop(TRANSACTION_HEADER, None)
            self._abandon(trans_id)
            raise
        # The commit itself must go without the header. Not bigrest's transaction_commit():
        # it pops the header first, so a retry after a re-login would fail on a KeyError.
        self._device.session.headers.pop(TRANSACTION_HEADER, None)
        path = f"{TRANSACTION_PATH}/{trans_id}"
        what = f"commit a transaction of {len(changes)} changes ({summary(changes)})"
        reply = self._call(
            "PATCH", path, what, lambda: self._device.modify(path, {"state": "VALIDATING"})
        )
        state = str(reply.properties.get("state", ""))
        if state != "COMPLETED":
            # A 200 that did not complete: FAILED carries the mcpd reason; anything else
            # (still validating) is not something this synchronous client waits for.
            reason = str(reply.properties.get("failureReason", ""))
            failure = Failure(400, f"transaction {state}: {reason}", message_and_code(reason)[1])
            if state == "FAILED":
                raise classify(failure, "PATCH", path, what)
            raise BigipRetryable(
                f"{what}: transaction left in state {state!r}", 200, "", "PATCH", path
            )

    def _start_transaction(self, size: int) -> str:
        self._ensure_token()
        what = f"start a transaction of {size} changes"
        try:
            created = self._call(
                "POST", TRANSACTION_PATH, what, lambda: self._device.transaction_create()
            )
            return transaction_id(created.properties)
        except KeyError:  # bigrest indexes transId before it sets the header: nothing to undo
            bad = BadReply(200, "the reply carries no transId")
        except BadReply as error:
            # bigrest has put the unusable id into the header: nothing may go out with it.
            self._device.session.headers.pop(TRANSACTION_HEADER, None)
            bad = error
        raise self._bad_reply(bad, "POST", TRANSACTION_PATH, what)

    def _abandon(self, trans_id: Any) -> None:
        try:
            self._raw("DELETE", f"{TRANSACTION_PATH}/{trans_id}", "abandon a transaction")
        except BigipError as exc:
            log.debug("could not delete abandoned transaction %s: %s", trans_id, exc)

    def _send(self, write: Write) -> None:
        send = functools.partial(self._write, write.method, write.path, write.body)
        self._call(write.method, write.path, write.describe(), send)

    def _write(self, method: str, path: str, body: dict[str, Any] | None) -> None:
        """One write, made here rather than by bigrest: the device echoes what it stored
        (megabytes for a large data group), and that answer is checked without being built."""
        response = self._device.session.request(
            method,
            f"https://{self._device.device}{path}",
            json=body if method != "DELETE" else None,
            timeout=self._settings.timeout,
            hooks={"response": [self._on_response, refuse_redirect]},  # checked below
        )
        if response.status_code != 200:
            raise RESTAPIError(response, None)  # as bigrest raises it: _call classifies it
        if response.content or method != "DELETE":  # a delete may answer nothing
            problem = unread_object_problem(response.content)
            if problem:
                raise BadReply(200, problem)
