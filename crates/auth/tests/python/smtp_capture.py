"""A real SMTP server on loopback for the account lifecycle tests.

Usage: smtp_capture.py OUT_DIR [PORT [SECURITY [USER:PASSWORD]]]

Listens on 127.0.0.1:PORT (0 or absent: a free port), prints the port on the first line of
stdout, and writes every accepted message to OUT_DIR as NNNNN.json with its envelope,
subject, decoded text and HTML parts and the SMTP login used. Exits when stdin closes (the
test process ended).

SECURITY is `none` (default), `starttls` (STARTTLS required before MAIL) or `tls` (TLS from
the first byte). With TLS, a throwaway CA and a certificate for localhost/127.0.0.1 signed by
it are made, and the CA is written to OUT_DIR/ca.pem for the client to trust. With
USER:PASSWORD, AUTH is required and only those credentials are accepted.
"""

import asyncio
import datetime
import email
import ipaddress
import json
import logging
import os
import ssl
import sys
import warnings
from email import policy

from aiosmtpd.smtp import SMTP, AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_tls_context(out_dir):
    """A CA (written to ca.pem) and a server certificate it signs; the server's context."""
    now = datetime.datetime.now(datetime.timezone.utc)
    valid = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1))

    def cert(subject, issuer, public_key, signing_key, ca):
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(valid[0])
            .not_valid_after(valid[1])
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        return builder.sign(signing_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp-capture test CA")])
    ca_cert = cert(ca_name, ca_name, ca_key.public_key(), ca_key, True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    server_cert = cert(name, ca_name, key.public_key(), ca_key, False)

    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)
    with open(os.path.join(out_dir, "ca.pem"), "wb") as f:
        f.write(pem(ca_cert))
    chain = os.path.join(out_dir, "server.pem")
    with open(chain, "wb") as f:
        f.write(pem(server_cert))
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(chain)
    return context


class Credentials:
    def __init__(self, login):
        self.user, self.password = login.split(":", 1)

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (
            auth_data.login.decode() == self.user
            and auth_data.password.decode() == self.password
        )
        return AuthResult(success=ok, auth_data=self.user if ok else None)


class Capture:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_to": envelope.rcpt_tos,
            "from": str(msg["from"]),
            "to": str(msg["to"]),
            "subject": str(msg["subject"]),
            "text": text.get_content() if text is not None else "",
            "html": html.get_content() if html is not None else "",
            "login": session.auth_data if session.authenticated else None,
            "tls": server.transport.get_extra_info("ssl_object") is not None,
        }
        self.count += 1
        final = os.path.join(self.out_dir, f"{self.count:05}.json")
        tmp = final + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.rename(tmp, final)  # readers never see half a file
        return "250 Message accepted for delivery"


async def main():
    out_dir = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    security = sys.argv[3] if len(sys.argv) > 3 else "none"
    login = sys.argv[4] if len(sys.argv) > 4 else ""
    handler = Capture(out_dir)
    context = make_tls_context(out_dir) if security != "none" else None
    options = {"hostname": "localhost"}
    if security == "starttls":
        options.update(tls_context=context, require_starttls=True)
    if login:
        # On implicit TLS aiosmtpd cannot tell the connection is encrypted: allow AUTH there.
        options.update(
            authenticator=Credentials(login),
            auth_required=True,
            auth_require_tls=security == "starttls",
        )
    # Refused handshakes and aiosmtpd's advice are expected in these tests: keep stderr for
    # real trouble.
    warnings.simplefilter("ignore")
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda loop, context: None)
    server = await loop.create_server(
        lambda: SMTP(handler, **options),
        "127.0.0.1",
        port,
        ssl=context if security == "tls" else None,
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
