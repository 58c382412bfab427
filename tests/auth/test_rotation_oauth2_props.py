"""The refused-client rotation policy as a hypothesis property, on an in-process token
endpoint: a token request refused with ``invalid_client`` is sent at most once more, only
with a secret its source now holds and that differs from the refused one, and the call
succeeds exactly when the source holds the secret the server accepts.

No network (the endpoint's ``request`` is replaced by the server's decision); the requests
over HTTP against authlib's server are in ``test_rotation_oauth2.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qs

from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.auth.base import AuthContext
from patchwire.auth.oauth2 import OAuth2ClientCredentials, oauth2_client_credentials_auth
from patchwire.auth.tokens import AccessToken
from patchwire.clock import VirtualClock
from patchwire.errors import AuthError
from patchwire.redact import Redactor
from patchwire.secrets import FileSource, Secret, SecretResolver

SECRETS = ("secret-one-000", "secret-two-111", "secret-three-22")

# A step moves the server to a secret, rotates the file, or asks for a new token.
steps = st.lists(
    st.one_of(
        st.tuples(st.just("server"), st.sampled_from(SECRETS)),
        st.tuples(st.just("file"), st.sampled_from(SECRETS)),
        st.tuples(st.just("token"), st.just("")),
    ),
    min_size=1,
    max_size=20,
)


class Server:
    """The token endpoint's decision: a token for the accepted secret, else invalid_client."""

    url = "http://127.0.0.1:1/token"

    def __init__(self, accepted: str) -> None:
        self.accepted = accepted
        self.sent: list[str] = []

    async def request(self, form: str, headers: Mapping[str, str]) -> AccessToken:
        secret = parse_qs(form)["client_secret"][0]
        self.sent.append(secret)
        if secret != self.accepted:
            error = AuthError("token endpoint refused the token request (invalid_client)")
            error.code = "invalid_client"
            raise error
        return AccessToken(Secret(f"tok-{len(self.sent)}", "token"), "Bearer", 3600.0, None)


@settings(max_examples=80, deadline=None)
@given(script=steps)
def test_a_refused_client_is_retried_at_most_once_with_a_changed_secret_and_succeeds_iff_the_source_holds_the_accepted_one(
    tmp_path_factory: object, script: list[tuple[str, str]]
) -> None:
    path = Path(tmp_path_factory.mktemp("oauth")) / "secret"  # type: ignore[attr-defined]
    path.write_text(SECRETS[0])
    clock = VirtualClock()  # never advanced: only a refusal makes patchwire read the file
    ctx = AuthContext(
        connector="svc",
        clock=clock,
        secrets=SecretResolver({"file": FileSource()}, clock, Redactor()),
        session=lambda: None,  # type: ignore[arg-type,return-value]
        emit=lambda event: None,
    )
    auth = oauth2_client_credentials_auth(
        ctx,
        {
            "scheme": "oauth2_client_credentials",
            "token_url": "http://127.0.0.1:1/token",
            "client_id": "cid",
            "client_secret": f"file:{path}",
            "client_auth": "post",
        },
    )
    assert isinstance(auth, OAuth2ClientCredentials)
    server = Server(SECRETS[0])
    auth.endpoint = server  # type: ignore[assignment]
    on_file = SECRETS[0]
    for what, value in script:
        if what == "server":
            server.accepted = value
        elif what == "file":
            path.write_text(value)
            on_file = value
        else:
            before = len(server.sent)
            try:
                asyncio.run(auth._obtain())
                succeeded = True
            except AuthError:
                succeeded = False
            sent = server.sent[before:]
            assert 1 <= len(sent) <= 2
            if len(sent) == 2:
                assert sent[0] != sent[1] and sent[1] == on_file  # a rotated secret, once
            # sent[0] is the secret patchwire held; the file is read again only on a refusal.
            assert succeeded == (server.accepted in (sent[0], on_file))
            assert not succeeded or sent[-1] == server.accepted
