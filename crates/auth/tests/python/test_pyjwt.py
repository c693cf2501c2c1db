"""Verify better-auth-server JWTs the way a FastAPI backend does with PyJWT:
PyJWKClient(jwks_url).get_signing_key_from_jwt(token), then jwt.decode with the
algorithm pinned to EdDSA, audience, issuer and leeway.

AUTH_URL is the server's origin. Run: python3 -m unittest -v test_pyjwt
"""

import base64
import json
import os
import unittest
import urllib.request
import uuid
from http.cookiejar import CookieJar

import jwt
from jwt import PyJWKClient

AUTH_URL = os.environ["AUTH_URL"].rstrip("/")
API = f"{AUTH_URL}/api/auth"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Session:
    """A signed-in user: cookies kept by a cookie jar, like a browser."""

    def __init__(self) -> None:
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        self.email = f"py-{uuid.uuid4().hex}@example.com"
        body = json.dumps({"name": "Py User", "email": self.email, "password": "password123"}).encode()
        request = urllib.request.Request(
            f"{API}/sign-up/email", data=body, headers={"content-type": "application/json"}
        )
        self.user = json.load(self.opener.open(request))["user"]

    def token(self) -> str:
        return json.load(self.opener.open(f"{API}/token"))["token"]


class PyJWTVerifiesOurTokens(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.session = Session()
        cls.jwks = PyJWKClient(f"{API}/jwks")

    def decode(self, token: str, **overrides):
        key = self.jwks.get_signing_key_from_jwt(token)
        options = dict(algorithms=["EdDSA"], audience=AUTH_URL, issuer=AUTH_URL, leeway=5)
        options.update(overrides)
        return jwt.decode(token, key, **options)

    def test_valid_token(self) -> None:
        claims = self.decode(self.session.token())
        self.assertEqual(claims["sub"], self.session.user["id"])
        self.assertEqual(claims["email"], self.session.email)
        self.assertEqual(claims["exp"] - claims["iat"], 900)

    def test_tampered_token_is_refused(self) -> None:
        header, payload, signature = self.session.token().split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        claims["sub"] = "someone-else"
        tampered = ".".join([header, b64url(json.dumps(claims).encode()), signature])
        with self.assertRaises(jwt.InvalidSignatureError):
            self.decode(tampered)

    def test_expired_token_is_refused(self) -> None:
        # A negative leeway moves "now" 16 minutes ahead: past the 15-minute lifetime
        # (the iat check is left out, it would trip over the same shifted clock first).
        with self.assertRaises(jwt.ExpiredSignatureError):
            self.decode(self.session.token(), leeway=-16 * 60, options={"verify_iat": False})

    def test_wrong_audience_or_issuer_is_refused(self) -> None:
        token = self.session.token()
        with self.assertRaises(jwt.InvalidAudienceError):
            self.decode(token, audience="https://other.example")
        with self.assertRaises(jwt.InvalidIssuerError):
            self.decode(token, issuer="https://other.example")

    def test_alg_none_and_hs256_confusion_are_refused(self) -> None:
        token = self.session.token()
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
        unsigned = ".".join(
            [b64url(json.dumps({"alg": "none", "kid": header["kid"]}).encode()), b64url(json.dumps(claims).encode()), ""]
        )
        with self.assertRaises(jwt.InvalidTokenError):
            self.decode(unsigned)
        # HS256 "signed" with the published public key: the classic algorithm confusion.
        published = json.load(urllib.request.urlopen(f"{API}/jwks"))["keys"]
        public_x = next(k["x"] for k in published if k["kid"] == header["kid"])
        confused = jwt.encode(claims, public_x.encode(), algorithm="HS256", headers={"kid": header["kid"]})
        with self.assertRaises(jwt.InvalidTokenError):
            self.decode(confused)

    def test_unknown_kid_is_refused(self) -> None:
        token = self.session.token()
        claims = jwt.decode(token, options={"verify_signature": False})
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        forged = jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": "not-a-real-kid"})
        with self.assertRaises(jwt.PyJWKClientError):
            self.decode(forged)


if __name__ == "__main__":
    unittest.main()
