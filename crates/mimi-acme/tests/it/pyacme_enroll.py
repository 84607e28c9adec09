"""A device enrolment at a domain CA driven by the Python `acme` library
(PyPI; certbot's ACME client), run by tests/it/domain_ca.rs against the
domain CA on loopback (docs/enrollment.md).

It creates an account with the external account binding key the registrar
obtained with mimiNewEab, orders the device and its user (identifier types
mimi-device and mimi-user, profile device), checks that the authorizations
are valid without any challenge, finalizes with a CSR built with
`cryptography` that names both URIs under a fresh Ed25519 key (the client's
MLS signature key), and prints one JSON object on stdout:
{"chain_pem": ..., "public_key_raw_hex": ...}. Everything else goes to
stderr. It exits non-zero, with the reason, on any failure.
"""

import argparse
import datetime
import json
import socket
import sys

import josepy as jose
from acme import client, messages
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

MIMI_USER = messages.IdentifierType("mimi-user")
MIMI_DEVICE = messages.IdentifierType("mimi-device")


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def resolve_to_loopback(name):
    """Makes `name` resolve to 127.0.0.1 in this process only."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host == name:
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--directory", required=True)
    parser.add_argument("--ca-name", required=True)
    parser.add_argument("--eab-kid", required=True)
    parser.add_argument("--eab-key", required=True, help="base64url")
    parser.add_argument("--device", required=True, help="mimi://<domain>/d/<user>/<device>")
    parser.add_argument("--user", required=True, help="mimi://<domain>/u/<user>")
    args = parser.parse_args()

    resolve_to_loopback(args.ca_name)
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=60)

    # The ACME account key is not the MLS key.
    account_key = jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    net = client.ClientNetwork(account_key, alg=jose.ES256, user_agent="mimi-pyacme-test")
    directory = client.ClientV2.get_directory(args.directory, net)
    assert directory.meta.external_account_required, "a domain CA requires EAB"
    profiles = directory.meta.profiles or {}
    assert "device" in profiles, f"the directory offers no device profile: {profiles}"
    acme = client.ClientV2(directory, net)

    eab = messages.ExternalAccountBinding.from_data(
        account_public_key=account_key.public_key(),
        kid=args.eab_kid,
        hmac_key=args.eab_key,
        directory=directory,
    )
    regr = acme.new_account(
        messages.NewRegistration.from_data(
            terms_of_service_agreed=True,
            external_account_binding=eab,
        )
    )
    log("account", regr.uri)

    # newOrder by hand: ClientV2.new_order takes the identifiers from a CSR,
    # which knows only DNS names and IP addresses.
    new_order = messages.NewOrder(
        identifiers=(
            messages.Identifier(typ=MIMI_DEVICE, value=args.device),
            messages.Identifier(typ=MIMI_USER, value=args.user),
        ),
        profile="device",
    )
    new_nonce = directory["newNonce"]
    response = net.post(directory["newOrder"], new_order, new_nonce_url=new_nonce)
    order_uri = response.headers["Location"]
    order = messages.Order.from_json(response.json())
    log("order", order_uri, order.status)
    assert order.status == messages.STATUS_READY, order.status

    authzrs = []
    for url in order.authorizations:
        authz = messages.Authorization.from_json(
            net.post(url, None, new_nonce_url=new_nonce).json()
        )
        assert authz.status == messages.STATUS_VALID, authz.status
        assert not authz.challenges, "pre-authorized: no challenge"
        authzrs.append(messages.AuthorizationResource(body=authz, uri=url))

    mls_key = ed25519.Ed25519PrivateKey.generate()
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.UniformResourceIdentifier(args.device),
                    x509.UniformResourceIdentifier(args.user),
                ]
            ),
            critical=False,
        )
        # Ed25519 signs the message itself: no hash.
        .sign(mls_key, None)
    )
    orderr = messages.OrderResource(
        body=order,
        uri=order_uri,
        authorizations=authzrs,
        csr_pem=csr.public_bytes(serialization.Encoding.PEM),
    )
    orderr = acme.poll_and_finalize(orderr, deadline)
    log("certificate downloaded")

    raw = mls_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    print(json.dumps({"chain_pem": orderr.fullchain_pem, "public_key_raw_hex": raw.hex()}))


if __name__ == "__main__":
    main()
