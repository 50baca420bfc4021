"""Keep secrets (password, tokens, presigned links) out of every log line and message.

Secrets are registered as soon as they are known. `redact` replaces them, and anything shaped like
a credential (``password=...``, ``bearer ...``, token fields of a JSON body, ``X-Amz-Signature=...``),
with ``***``. Every URL in a text keeps only its scheme, host(:port) and path: the userinfo
(``user:pass@``), the query string (a presigned link's signature) and the fragment are dropped, and
so is the query of a bare request target (``GET /path?... HTTP/1.1``, ``with url: /path?...``) as
urllib3 and requests print it. A log record factory applies `redact` to every record of the process
once the connector runs (message, and the traceback of records logged with ``exc_info``).
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import html
import json
import logging
import re
import threading
from collections.abc import Callable
from typing import Any, Optional
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

MASK = "***"


def _token_masked(match: re.Match[str]) -> str:
    """A token after `Invalid access/refresh token` (Spring's words), masked: after a colon or an opening quote
    or bracket, or a run with a digit; plain words (`token supplied`, `token (expired)`) and the text's own
    closing bracket or quote (`... token) using`) stay."""
    words, colon, blanks, opening, token = match.groups(default="")
    if colon or opening[-1:] in ("\"", "'", "[", "<") or any(c.isdigit() for c in token):
        return f"{words}{colon}{blanks}{opening}{MASK}"
    return match.group(0)


_PATTERNS = (
    # the value up to a blank, a tag, the next parameter (`&`, `&amp;`) or a quote that ends a JSON or quoted
    # text (`",` `"}`): a password may hold a quote, or `&quot;` for one; a JSON text stays JSON
    (re.compile(r"(?i)\b(password|refresh_token|access_token|client_secret)="
                r"(?:[^&\s<>\"'\\)`]|\\(?![\"'])|[\"'](?![,;:}\])/>.]|\s|$)|&(?!\w+=|amp;\w+=))+"),
     r"\1=" + MASK),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]+=*"), "bearer " + MASK),
    # HTTP basic credentials (a link's `user:pass@`, sent so by requests) as a host echoes the request's headers
    (re.compile(r"(?i)\b(authorization\W{0,4}basic)\s+[A-Za-z0-9+/]{4,}=*"), r"\1 " + MASK),
    (re.compile(r"(?i)\"(password|refresh_token|access_token)\"\s*:\s*\"(?:[^\"\\]|\\.)*\""), r'"\1": "' + MASK + '"'),
    (re.compile(r"(?i)(invalid (?:access|refresh) token)(:?)(\s*)(\\?[\"'\[(<])?([^\s)\]}>\"'\\,;]+)"),
     _token_masked),
    # presigned-link parameters and the echo of them in object-store error bodies
    (re.compile(r"(?i)\b(x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential|"
                r"awsaccesskeyid|signature|sig)=[^&\s\"'<>]+"), r"\1=" + MASK),
    (re.compile(r"(?i)<(AWSAccessKeyId|SignatureProvided|StringToSign|StringToSignBytes|CanonicalRequest|"
                r"CanonicalRequestBytes)>[^<]*"), r"<\1>" + MASK),
)
# scheme://[userinfo@]host[:port][/path][?query][#fragment]; the userinfo may itself hold an '@'
_URL = re.compile(r"(?i)(?<![a-z0-9+.\-])([a-z][a-z0-9+.\-]*://)(?:[^\s/?#\"'<>]*@)?([^\s/?#@\"'<>]*)([^\s?#\"'<>]*)"
                  r"(?:\?[^\s#\"'<>]*)?(?:#[^\s\"'<>]*)?")
# a bare request target with a query: after a space, quote, '(', '=' or ':' (never inside a word)
_TARGET_QUERY = re.compile(r"(?<![^\s'\"(=:,\[])(/[^\s?#\"'<>]*)\?[^\s\"'<>]*")
# a link quoted without its scheme (`cdn.example.net/t/x.csv?token=...`, red team 133): host with a dot, path, query
_BARE_LINK_QUERY = re.compile(r"(?i)(?<![^\s'\"(=:,\[])((?:(?:[a-z0-9-]+\.)+[a-z][a-z0-9-]*|\d+\.\d+\.\d+\.\d+)"
                              r"(?::\d+)?/[^\s?#\"'<>]*)\?[^\s\"'<>]+")


# the part of a secret that is a secret by itself: 16 or more letters and digits in a row
_CORE = re.compile(r"[A-Za-z0-9]{16,}")
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")
FOLDED_FROM = 8  # a secret's forms this long or longer are masked in any case
# a query parameter whose value is a secret even when short (shorter values of other names, an expiry in
# seconds or a version, would mask common words and numbers in every message)
_SECRET_NAME = re.compile(r"(?i)(?:^|[-_.])(?:tok|token|sig|signature|secret|key|sess|session|auth|pass|password|"
                          r"cred|credential|hmac|code|hdnts)(?:$|[-_.])")
# query parameters of a presigned link that say how it was signed, not with what (`X-Amz-SignedHeaders=host`,
# `response-content-type=text/csv`): masking their values would mask those words in every message
_PLAIN_NAME = re.compile(r"(?i)^(?:x-amz-(?:algorithm|date|expires|signedheaders)|x-goog-(?:algorithm|date|expires|"
                         r"signedheaders)|response-[a-z-]+|x-id)$")


# a URL quoted inside another's query or a message, URL-encoded: `https%3A%2F%2Fhost%2Fpath%3F...`
_ENCODED_URL = re.compile(r"(?i)(?<![a-z0-9+.\-])[a-z][a-z0-9+.\-]*%3A%2F%2F[^\s\"'<>]*")


def strip_urls(text: str) -> str:
    """`text` with every URL, also one written URL-encoded or JSON-escaped (`https:\\/\\/`), reduced to
    scheme, host(:port) and path; a URL cut inside its userinfo (`https://user:pa`, the end of an
    excerpt) keeps no part of it."""
    if "%3a%2f%2f" in text.lower():
        text = _ENCODED_URL.sub(lambda m: strip_urls(unquote(m.group())), text)
    if ":\\/\\/" in text:  # an unparsed JSON body's `\/`: its URLs as URLs
        text = text.replace("\\/", "/")
    if "?" not in text and "#" not in text and "@" not in text and "://" not in text:
        return text
    text = _URL.sub(lambda m: m.group(1) + _host(m.group(2)) + m.group(3), text)
    return _BARE_LINK_QUERY.sub(r"\1", _TARGET_QUERY.sub(r"\1", text))


def _host(host: str) -> str:
    """`host` of a URL match, or the mask where it is a cut userinfo (`user:pass`, no `@` after it); the
    punctuation a sentence puts after a URL (`http://host:8080,` `(http://host).`) is not a port."""
    core = host.rstrip(".,;:!)]}")
    if core.startswith("[") or ":" not in core:
        return host
    return host if core.rsplit(":", 1)[1].isdigit() else MASK + host[len(core):]


class SecretRegistry:
    """The secret values seen so far in this process."""

    def __init__(self) -> None:
        self._exact: set[str] = set()  # short forms: masked as written
        self._folded: dict[str, re.Pattern[str]] = {}  # longer forms, lower-cased: masked in any case
        self._order: list[tuple[str, bool]] = []  # every form, longest first; True: folded
        # a secret percent-encoded by any writer: each character written or escaped (see _any_escaping)
        self._escaped: dict[str, re.Pattern[str]] = {}
        self._lock = threading.Lock()

    def add(self, secret: Optional[str], every_form: bool = True) -> None:
        """Register `secret` as written and as a URL or an HTML page quotes it (`%40`, `+`, `&#64;`),
        with its letters and digits alone and each long run of them (a token's random part, which a
        message may quote without its prefix or dashes: `tok-<hex>` as a "session <hex>", a UUID
        without its dashes). Forms of 8 characters or more are matched in any case (a status Uniware
        echoes is read upper-case); shorter ones as written (a short password is also a word).
        `every_form`: also the escapes bodies echoing a credential take (see _quoted, _encoded,
        _html_escaped); a link's query values, many per run, get the common forms only, so that the
        check of every log line stays short (1,000 links: 3 ms a line, against 13.5 ms with every form)."""
        if secret and len(secret) >= 4:
            found = {*_common_forms(secret), *_CORE.findall(secret), *_CORE.findall(_NOT_ALNUM.sub("", secret))}
            if every_form:
                found |= {*_url_encoded(secret), *_html_escaped(secret), *_quoted(secret), *_encoded(secret)}
            found |= {wrong for form in found if not form.isascii() for wrong in _misdecoded(form)}
            for wrong in _misdecoded(secret):  # escaped once misread
                found |= _common_forms(wrong) | (_html_escaped(wrong) if every_form else set())
            escaped = _any_escaping(secret) if every_form and quote(secret, safe="") != secret else None
            with self._lock:
                if escaped is not None and secret not in self._escaped:
                    self._escaped = {**self._escaped, secret: escaped}  # a copy: redact reads it without the lock
                new: list[tuple[str, bool]] = []
                for form in found:
                    if len(form) >= FOLDED_FROM and form.lower() not in self._folded:
                        self._folded[form.lower()] = re.compile(re.escape(form), re.IGNORECASE)
                        new.append((form.lower(), True))
                    elif len(form) < FOLDED_FROM and form not in self._exact:
                        self._exact.add(form)
                        new.append((form, False))
                if not new:
                    return  # nothing new (a link registered again on a retry): the order stands
                # longest first: put into place in a copy (redact reads the list it took without the lock),
                # not sorted again (many links in one process)
                order = list(self._order)
                for item in new:
                    bisect.insort(order, item, key=lambda entry: -len(entry[0]))
                self._order = order

    def redact(self, text: str, *, cut: bool = False) -> str:
        """`text` with every secret masked; `cut`: `text` is the start of a longer text, so a secret
        it ends in the middle of is masked from where it begins."""
        with self._lock:
            order, folded, escaped = self._order, self._folded, self._escaped
        if "%" in text:
            for pattern in escaped.values():
                text = pattern.sub(MASK, text)
        text = _masked(text, order, folded)
        if _AN_ESCAPE.search(text):  # a secret escaped in part (`s3cret&#45;Pa55!`, `s3cret\u002dPa55`): no list
            decoded = _AN_ESCAPE.sub(_unescaped, text)  # of forms holds every mix; the text is read unescaped
            masked = _masked(decoded, order, folded)
            text = masked if masked != decoded else text
        if cut:  # after the whole secrets: a whole one at the end is masked whole, not from a look-alike start
            text = _mask_cut_secret(text, order)
        for credential, replacement in _PATTERNS:
            text = credential.sub(replacement, text)
        return strip_urls(text)

    def add_login(self, username: str, password: str) -> None:
        """Register a password and its login as HTTP basic auth writes it, `username:password` in base64 (a
        body echoing the request's header or a `user:password` pair encoded: the password alone is
        registered in base64 too, but not inside the pair, whose base64 has none of its characters)."""
        self.add(password)
        pair = f"{username}:{password}"
        for encoding in ("latin-1", "utf-8"):
            try:
                data = pair.encode(encoding)
            except UnicodeEncodeError:
                continue
            for form in {base64.b64encode(data).decode(), base64.urlsafe_b64encode(data).decode()}:
                self.add(form, every_form=False)
                self.add(form.rstrip("="), every_form=False)

    def add_url(self, url: str) -> None:
        """Register the credentials a URL carries: its userinfo and its query values (a presigned link's
        signature, credential and session token) of 8 characters or more, or of 4 or more under a name
        that says secret (`tok=`, `sig=`, `session=`...)."""
        try:
            parts = urlsplit(url)
        except ValueError:  # not a URL (`https://[fd00::1...`): its job fails on it, quoting no part of it
            return
        if "@" in parts.netloc:
            userinfo = parts.netloc.rsplit("@", 1)[0]
            self.add(userinfo)
            self.add(unquote(userinfo))
            # as requests sends it (`user:` without a password, Latin-1), and as a host quoting the request
            # echoes it: `Authorization: Basic <base64>`
            pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
            for encoding in ("latin-1", "utf-8"):
                try:
                    self.add(base64.b64encode(pair.encode(encoding)).decode())
                except UnicodeEncodeError:
                    continue
            if parts.password and len(parts.password) >= 8:
                self.add(parts.password)
                self.add(unquote(parts.password))
        # a path's parameters too (`/file.csv;jsessionid=...`: a servlet's session), as a query's
        params = [p for path in {parts.path, unquote(parts.path)} for segment in path.split("/")
                  for p in segment.split(";")[1:]]
        for name, value in [*parse_qsl(parts.query, keep_blank_values=False),
                            *(p.partition("=")[::2] for p in params if "=" in p)]:
            if _PLAIN_NAME.match(name):
                continue
            if len(value) >= FOLDED_FROM or (_SECRET_NAME.search(name) and len(value) >= 4):
                # as a body echoes it: a `+` read as a space (form decoding), base64 without its `=` padding
                for form in {value, value.replace("+", " "), value.rstrip("=")}:
                    self.add(form, every_form=False)
                self.add(quote(value, safe=""), every_form=False)


def _masked(text: str, order: list[tuple[str, bool]], folded: dict[str, re.Pattern[str]]) -> str:
    """`text` with every form in `order` masked (folded ones in any case)."""
    lowered = text.lower()
    for form, any_case in order:  # a cheap test first: a log record holds no secret, almost always
        if any_case and form in lowered:
            text = folded[form].sub(MASK, text)
            lowered = text.lower()
        elif not any_case and form in text:
            text = text.replace(form, MASK)
            lowered = text.lower()
    return text


# an HTML entity, or a backslash escape of a character (`\u002d`, `\x2d`, `\!`)
_AN_ESCAPE = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);"
                        r"|\\(?:u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[^\w\s])")


def _unescaped(match: re.Match[str]) -> str:
    escape = match.group()
    if escape.startswith("&"):
        return html.unescape(escape)
    if escape[1] in "ux" and len(escape) > 2:
        return chr(int(escape[2:], 16))
    return escape[1]


def _common_forms(secret: str) -> set[str]:
    """`secret` as written, URL-encoded (`%40`, `+`), HTML-escaped (`&#64;`) and JSON-escaped."""
    return {secret, quote(secret, safe=""), quote_plus(secret), html.escape(secret),
            "".join(c if c.isalnum() or c in "-_.~" else f"&#{ord(c)};" for c in secret), *_json_escaped(secret)}


def _url_encoded(secret: str) -> set[str]:
    """`secret` percent-encoded as UTF-8 and, where it can be, as Latin-1 (`%E9`), with `+` for spaces or not,
    and encoded twice (`%2526`: a link quoted inside another link's query)."""
    forms = {quote(secret, safe=""), quote_plus(secret),
             "".join(c if c.isascii() else quote(c) for c in secret)}  # only non-ASCII (Java's URI.toASCIIString)
    with contextlib.suppress(UnicodeEncodeError):
        forms |= {quote(secret, safe="", encoding="latin-1"), quote_plus(secret, encoding="latin-1")}
    return forms | {quote(form, safe="") for form in forms}


def _any_escaping(secret: str) -> re.Pattern[str]:
    """`secret` as any percent-encoder writes it: each character as it is or escaped (UTF-8 or Latin-1
    bytes, hex in either case; `+` for a space). Encoders differ in what they leave as it is (`/` in a
    path, `@:` in RFC 3986's safe set, `!*'()` in JavaScript's encodeURIComponent...), so the forms
    cannot all be listed. In any case from FOLDED_FROM characters on, as the other forms."""
    parts = []
    for character in secret:
        readings = {re.escape(character), "".join(f"%(?i:{byte:02x})" for byte in character.encode())}
        if ord(character) < 256:
            readings.add(f"%(?i:{ord(character):02x})")
        if character == " ":
            readings.add(r"\+")
        parts.append(f"(?:{'|'.join(sorted(readings))})")
    return re.compile("".join(parts), re.IGNORECASE if len(secret) >= FOLDED_FROM else 0)


def _misdecoded(form: str) -> set[str]:
    """`form`'s UTF-8 bytes read as Latin-1 or Windows-1252 (`é` as `Ã©`): how a body without a charset
    that echoes a non-ASCII secret reads (requests takes text/plain as ISO-8859-1)."""
    data = form.encode()
    return {data.decode("latin-1"), data.decode("cp1252", errors="replace")} - {form}


def _html_escaped(secret: str) -> set[str]:
    """`secret` as HTML and XML writers escape it: Python's (`&#x27;`), Spring's (`&#39;`), XML's (`&apos;`),
    and every character not a letter or digit as a decimal or hex entity."""
    amp = secret.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    forms = {html.escape(secret), html.escape(secret, quote=False),
             amp.replace('"', "&quot;").replace("'", "&#39;"), amp.replace('"', "&quot;").replace("'", "&apos;")}
    forms |= {"".join(c if c.isascii() else f"&#{ord(c)};" for c in form) for form in forms}  # non-ASCII: entities
    for kept in ("-_.~", ""):  # a writer may keep these as they are, or not
        for ascii_only in (True, False):  # letters outside ASCII kept, or written as entities too
            plain = {c for c in secret if (c.isalnum() and (c.isascii() or not ascii_only)) or c in kept}
            for entity in ("&#{};", "&#x{:x};", "&#x{:X};"):
                forms.add("".join(c if c in plain else entity.format(ord(c)) for c in secret))
    return forms


def _encoded(secret: str) -> set[str]:
    """`secret` as bytes or escapes show it: Python's `ascii()` (`\\xe4`), its UTF-8 bytes printed
    (`\\xc3\\xa4`), and base64 of it alone (standard and URL-safe, padded or not)."""
    data = secret.encode()
    b64 = {base64.b64encode(data).decode(), base64.urlsafe_b64encode(data).decode()}
    return {ascii(secret)[1:-1], repr(data)[2:-1], *b64, *(form.rstrip("=") for form in b64)}


def _json_escaped(secret: str) -> set[str]:
    r"""`secret` as JSON writers escape it inside a string (`\"`, `\\`), non-ASCII as `\u00e4` or as it
    is (Jackson) and, as Gson does by default, `<>&='` as `\u0026`..., each with or without `/` as `\/`."""
    forms = set()
    for plain in (json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]):
        gson = "".join(f"\\u{ord(c):04x}" if c in "<>&='" else c for c in plain)
        forms |= {plain, gson, plain.replace("/", "\\/"), gson.replace("/", "\\/")}
    return forms


def _quoted(secret: str) -> set[str]:
    """`secret` as a message may quote it: JSON-escaped (see _json_escaped) or as Python writes a string
    inside a dict or list it prints (`repr`: `\\` and a quote escaped), and each of those once more, as a
    body quoted inside another body (a JSON text in an error's description, a dict printed with it)."""
    once = {secret, *_json_escaped(secret), *_python_quoted(secret)}
    forms = set(once)
    for form in once:
        forms |= {*_json_escaped(form), *_python_quoted(form)}
    forms.discard(secret)
    return forms


def _python_quoted(text: str) -> set[str]:
    """`text` inside a Python string literal as `repr` writes it: backslashes doubled, and a `'` escaped
    or not (repr escapes it only in a text that also holds a `"`, which decides for the whole literal)."""
    return {repr(text)[1:-1], repr(text + "'\"")[1:-4], repr(text + '"')[1:-2]}


SECRETS = SecretRegistry()
PARTIAL_FROM = 4  # a text ending in this many characters of a secret's start ends in that secret


def _mask_cut_secret(text: str, order: list[tuple[str, bool]]) -> str:
    """`text` with its end masked from the earliest place where it ends in the start of a secret."""
    lowered = text.lower()
    end = len(text)
    for form, any_case in order:
        wanted, within = (form, lowered) if any_case else (form, text)
        at = within.find(wanted[:PARTIAL_FROM], max(0, len(within) - len(wanted) + 1))
        while at != -1 and at < end:
            if wanted.startswith(within[at:]):
                end = at
                break
            at = within.find(wanted[:PARTIAL_FROM], at + 1)
    return text if end == len(text) else text[:end] + MASK


def redact(text: Any) -> str:
    """`text` as a string with every known secret and credential-shaped value masked."""
    return SECRETS.redact(str(text))


def excerpt(text: str, limit: int, *, cut: bool = False) -> str:
    """The first `limit` characters of `text` once it is redacted (masking first: a secret the cut
    would split keeps no prefix). `cut`: `text` is itself the start of a longer body (a read limit),
    so a secret it ends in the middle of is masked too."""
    return SECRETS.redact(text, cut=cut)[:limit]


def scrub_exception(error: BaseException) -> BaseException:
    """Redact the text of `error` and of every exception chained to it, in place (dlt's trace
    records the message of each one, including a context suppressed with ``from None``)."""
    seen: set[int] = set()
    current: Optional[BaseException] = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        try:
            text = str(current)
        except Exception:  # an exception that cannot print itself leaks nothing either
            text = ""
        cleaned = redact(text)
        if cleaned != text:
            current.args = (cleaned,)
        current = current.__cause__ or current.__context__
    return error


_installed = False
_install_lock = threading.Lock()


def install_log_redaction() -> None:
    """Make every log record of the process pass through `redact` (idempotent)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            try:
                message = record.getMessage()
            except Exception:  # a malformed record is the logging module's business, not ours
                return record
            cleaned = redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
            if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            if record.stack_info:
                record.stack_info = redact(record.stack_info)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
