"""A phone-ca order driven by the Python `acme` library (PyPI; certbot's ACME
client), run by tests/it/pyacme.rs against the authority on loopback.

It creates an account with external account binding, orders a TNAuthList
identifier (RFC 9448) together with the provider's domain under the profile
phone-ca, answers http-01 by writing the key authorization to a file named
after the token in --token-dir (the Rust test's responder serves that
directory), answers sms-link-00 by reading the code "as the phone" from the
SMS outbox, finalizes with a CSR built with `cryptography` that carries the
TNAuthList extension, and prints one JSON object on stdout:
{"chain_pem": ..., "key_pkcs8_hex": ...}. Everything else goes to stderr.
It exits non-zero, with the reason, on any failure.
"""

import argparse
import datetime
import hashlib
import json
import os
import re
import socket
import sys
import time

import josepy as jose
from acme import challenges, client, messages
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ObjectIdentifier

TN_AUTH_LIST_OID = ObjectIdentifier("1.3.6.1.5.5.7.1.26")
IDENTIFIER_TN_AUTH_LIST = messages.IdentifierType("TNAuthList")


class SmsLinkReady(challenges.ChallengeResponse):
    """`{}`: ready for the SMS (draft-peterson-mimi-idprover §4)."""

    typ = "sms-link-00"

    # acme sends a falsy object as POST-as-GET (an empty payload), and an
    # object without fields is falsy; this one must go out as `{}`.
    def __bool__(self):
        return True


class SmsLinkCompletion(challenges.ChallengeResponse):
    """`{"keyAuthorization": ...}`: the code and the account key."""

    typ = "sms-link-00"
    key_authorization: str = jose.field("keyAuthorization")


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def resolve_to_loopback(name):
    """Makes `name` resolve to 127.0.0.1 in this process only: the authority
    is on loopback under a name of its own, and the TLS check needs that
    name."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host == name:
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


def b64url(data):
    return jose.b64encode(data).decode()


def outbox_lines(path, number):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        lines = [json.loads(line) for line in f if line.strip()]
    return [line for line in lines if line["to"] == number]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--directory", required=True)
    parser.add_argument("--authority-name", required=True)
    parser.add_argument("--eab-kid", required=True)
    parser.add_argument("--eab-key", required=True, help="base64url")
    parser.add_argument("--domain", required=True)
    parser.add_argument("--number", required=True, help="E.164 with '+'")
    parser.add_argument("--tnauthlist-hex", required=True, help="DER, hex")
    parser.add_argument("--outbox", required=True)
    parser.add_argument("--token-dir", required=True)
    args = parser.parse_args()

    resolve_to_loopback(args.authority_name)
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=60)

    account_key = jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    net = client.ClientNetwork(account_key, alg=jose.ES256, user_agent="mimi-pyacme-test")
    # Every response body, to check that none shows the code.
    bodies = []
    net.session.hooks["response"].append(lambda r, *a, **k: bodies.append(r.text))
    directory = client.ClientV2.get_directory(args.directory, net)
    profiles = directory.meta.profiles or {}
    assert "phone-ca" in profiles, f"the directory offers no phone-ca profile: {profiles}"
    acme = client.ClientV2(directory, net)

    eab = messages.ExternalAccountBinding.from_data(
        account_public_key=account_key.public_key(),
        kid=args.eab_kid,
        hmac_key=args.eab_key,
        directory=directory,
    )
    regr = acme.new_account(
        messages.NewRegistration.from_data(
            email="ops@" + args.domain,
            terms_of_service_agreed=True,
            external_account_binding=eab,
        )
    )
    log("account", regr.uri)

    # newOrder by hand: ClientV2.new_order takes the identifiers from a CSR,
    # which knows only DNS names and IP addresses.
    tn_der = bytes.fromhex(args.tnauthlist_hex)
    new_order = messages.NewOrder(
        identifiers=(
            messages.Identifier(typ=IDENTIFIER_TN_AUTH_LIST, value=b64url(tn_der)),
            messages.Identifier(typ=messages.IDENTIFIER_FQDN, value=args.domain),
        ),
        profile="phone-ca",
    )
    new_nonce = directory["newNonce"]
    response = net.post(directory["newOrder"], new_order, new_nonce_url=new_nonce)
    order_uri = response.headers["Location"]
    order = messages.Order.from_json(response.json())
    log("order", order_uri, order.status)

    authzrs = []
    code = None
    for url in order.authorizations:
        authz = messages.Authorization.from_json(
            net.post(url, None, new_nonce_url=new_nonce).json()
        )
        authzrs.append(messages.AuthorizationResource(body=authz, uri=url))
        kinds = [c.chall.to_partial_json().get("type") for c in authz.challenges]
        if authz.identifier.typ == messages.IDENTIFIER_FQDN:
            assert kinds == ["http-01"], kinds
            challb = authz.challenges[0]
            answer, validation = challb.response_and_validation(account_key)
            token = challb.chall.encode("token")
            with open(os.path.join(args.token_dir, token), "w", encoding="utf-8") as f:
                f.write(validation)
            acme.answer_challenge(challb, answer)
            log("http-01 answered for", authz.identifier.value)
        elif authz.identifier.typ == IDENTIFIER_TN_AUTH_LIST:
            assert kinds == ["sms-link-00"], kinds
            challb = authz.challenges[0]
            token = challb.chall.jobj["token"]
            sent_before = len(outbox_lines(args.outbox, args.number))
            challr = acme.answer_challenge(challb, SmsLinkReady())
            assert challr.body.status == messages.STATUS_PROCESSING, challr.body.status
            # The user reads the code off the phone.
            while len(outbox_lines(args.outbox, args.number)) == sent_before:
                assert datetime.datetime.now() < deadline, "no SMS arrived"
                time.sleep(0.1)
            text = outbox_lines(args.outbox, args.number)[-1]["text"]
            assert args.domain in text, f"the SMS does not name the provider: {text!r}"
            code = re.search(r"\b(\d{6})\b", text).group(1)
            thumbprint = b64url(account_key.thumbprint(hash_function=hashes.SHA256))
            digest = hashlib.sha256((code + token + "." + thumbprint).encode()).digest()
            challr = acme.answer_challenge(challb, SmsLinkCompletion(key_authorization=b64url(digest)))
            assert challr.body.status == messages.STATUS_VALID, challr.body.status
            log("sms-link-00 completed for", args.number)
        else:
            raise AssertionError(f"unexpected identifier {authz.identifier}")
    assert code is not None, "the order has no TNAuthList authorization"

    # The phone-number CA's key, and a CSR carrying the domain and the
    # TNAuthList extension (an extension `cryptography` does not know).
    ca_key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(args.domain)]), critical=False)
        .add_extension(x509.UnrecognizedExtension(TN_AUTH_LIST_OID, tn_der), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    orderr = messages.OrderResource(
        body=order,
        uri=order_uri,
        authorizations=authzrs,
        csr_pem=csr.public_bytes(serialization.Encoding.PEM),
    )
    orderr = acme.poll_and_finalize(orderr, deadline)
    log("certificate downloaded")

    shown = [b for b in bodies if code in b]
    assert not shown, f"a response shows the code: {shown[0]!r}"

    key_der = ca_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    print(json.dumps({"chain_pem": orderr.fullchain_pem, "key_pkcs8_hex": key_der.hex()}))


if __name__ == "__main__":
    main()
