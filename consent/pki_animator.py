"""certomancer's Animator for the demo PKI, with OCSP requests over HTTP GET as well as POST.

`python -m consent.pki_animator --config F --key-root D --port N` serves what `certomancer animate --no-web-ui`
serves (`consent.pki_services.Animator` starts it). certomancer's responder takes only POST, while RFC 6960
(appendix A.1) allows GET (`<responder URL>/<base64 of the DER request, URL-encoded>`) and NSS, hence poppler's
`pdfsig`, asks with GET first; and certomancer dates its OCSP responses to the microsecond, fractional seconds
that NSS does not read in a GeneralizedTime, so it rejected every answer. Either way `pdfsig` reported our
certificates as "Unknown issue with Certificate". Here a GET is answered as the same POST, and OCSP answers are
dated to the second (through the Animator's own time override, unless the request sets one).

Kept free of Django: it runs in its own process (under faketime for the long-term tests).
"""

import argparse
import base64
import binascii
import datetime
import io
import re
from urllib.parse import unquote

_OCSP = re.compile(r"^/[^/]+/ocsp/[^/]+(?:/|$)")
_OCSP_GET = re.compile(r"^(?P<responder>/[^/]+/ocsp/[^/]+)/(?P<request>.+)$")
_FAKE_TIME = "HTTP_X_CERTOMANCER_FAKE_TIME"  # certomancer's FAKE_TIME_HEADER, as WSGI names it
ANSWERED_BY_HEADER = "X-TrialDocs-Animator"


class OcspGetAsPost:
    """WSGI middleware: an RFC 6960 OCSP GET becomes the POST certomancer answers, and OCSP answers are dated to
    the second."""

    def __init__(self, app, answered_by: str = ""):
        self.app, self.answered_by = app, answered_by

    def __call__(self, environ, start_response):
        if self.answered_by:  # who answered: this process (`consent.pki_services.Animator.start` checks it)
            answer = start_response

            def start_response(status, headers, exc_info=None):
                return answer(status, [*headers, (ANSWERED_BY_HEADER, self.answered_by)], exc_info)

        if _OCSP.match(environ.get("PATH_INFO", "")) and not environ.get(_FAKE_TIME):
            now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
            environ = {**environ, _FAKE_TIME: now.isoformat()}
        match = _OCSP_GET.match(environ.get("PATH_INFO", "")) if environ.get("REQUEST_METHOD") == "GET" else None
        if match is not None:
            try:  # PATH_INFO is already percent-decoded; decoding once more is harmless for base64
                der = base64.b64decode(unquote(match["request"]), validate=True)
            except (binascii.Error, ValueError):
                der = None
            if der:
                environ = {**environ, "REQUEST_METHOD": "POST", "PATH_INFO": match["responder"],
                           "CONTENT_TYPE": "application/ocsp-request", "CONTENT_LENGTH": str(len(der)),
                           "wsgi.input": io.BytesIO(der), "QUERY_STRING": ""}
        return self.app(environ, start_response)


def keep_loaded_keys() -> None:
    """certomancer parses the TSA's (and OCSP responder's, and CA's for a CRL) private key anew for every answer it
    signs, and cryptography checks an RSA key's consistency each time it parses one: 28 ms of the 38 ms a timestamp
    took, 78 % of the Animator's CPU in the cluster (profiled). In this process, a key parsed once is kept (by its
    DER bytes): one per service. Used by the long-running services of `manage.py pki_services` (`make demo`,
    `make cluster`), not by the short-lived ones the tests start: with it, two revocation and long-term tests
    failed in full test runs (3 times in 7 runs, never alone nor under CPU load); the cause was not found, see
    bench/RESULTS.md."""
    import functools

    from cryptography.hazmat.primitives import serialization

    if getattr(serialization.load_der_private_key, "trialdocs_cached", False):
        return
    cached = functools.lru_cache(maxsize=32)(serialization.load_der_private_key)

    def load_der_private_key(data, password=None, backend=None, **options):
        return cached(bytes(data), password, **options)

    load_der_private_key.trialdocs_cached = True
    serialization.load_der_private_key = load_der_private_key


def build_app(config: str, key_root: str, answered_by: str = ""):
    from certomancer.integrations.animator import Animator, AnimatorArchStore
    from certomancer.registry import CertomancerConfig

    cfg = CertomancerConfig.from_file(config, key_search_dir=key_root)
    return OcspGetAsPost(Animator(AnimatorArchStore(cfg.pki_archs), with_web_ui=False), answered_by)


def main(argv=None) -> None:
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--key-root", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--answered-by", default="", help="sent back in every answer's X-TrialDocs-Animator header")
    parser.add_argument("--keep-keys", action="store_true", help="parse each service's private key once")
    args = parser.parse_args(argv)
    if args.keep_keys:
        keep_loaded_keys()
    run_simple("127.0.0.1", args.port, build_app(args.config, args.key_root, args.answered_by))


if __name__ == "__main__":
    main()
