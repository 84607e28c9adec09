//! KeyPackage retrieval between providers (draft-kohbrok-mimi-transport §5.9
//! `/group_key_packages`, §5.8 `/connection_key_packages`): a provider claims, for
//! one of its clients, a KeyPackage of each client of a user at another provider.
//!
//! The transport draft names these structures and defers them to
//! draft-robert-mimi-delivery-service, which never defines them under these names;
//! the shapes are ours (docs/draft-divergences.md, "Provider endpoints"). Requests
//! travel as the body of an [`EventEnvelope`](crate::EventEnvelope) inside a signed
//! [`S2SMessage`](crate::S2SMessage); the response is the HTTP response body,
//! authenticated by TLS.
//!
//! KeyPackages are opaque here: the claiming client validates them (signature,
//! credential chain, lifetime) with OpenMLS; a provider relays, and cannot make a
//! client accept a false identity.

use mimi_identifiers::{DeviceId, UserId};
use tls_codec::{TlsSerialize, TlsSize, VLBytes};

use crate::error::{WireError, quote};
use crate::ids::{self, MAX_ID_LEN};
use crate::reader::{Reader, decode_with, encode_checked};

/// Largest KeyPackage accepted anywhere (here and in client uploads): 64 KiB,
/// room for a leaf node with a chain of several X.509 certificates and
/// post-quantum keys.
pub const MAX_KEY_PACKAGE_LEN: usize = 64 * 1024;

/// Most KeyPackages in one [`GroupKeyPackageResponse`]: one per client of a user.
pub const MAX_CLIENT_KEY_PACKAGES: usize = 64;

/// Largest `connection_token` of a [`ConnectionKeyPackageRequest`].
pub const MAX_CONNECTION_TOKEN_LEN: usize = 256;

/// `uint16 cipher_suite`: any MLS cipher suite but RFC 9420's reserved 0x0000.
fn read_cipher_suite(r: &mut Reader<'_>, field: &'static str) -> Result<u16, WireError> {
    let value = r.u16()?;
    check_cipher_suite(field, value)?;
    Ok(value)
}

pub(crate) fn check_cipher_suite(field: &'static str, value: u16) -> Result<(), WireError> {
    if value == 0 {
        return Err(WireError::OutOfRange {
            field,
            value: 0,
            min: 1,
            max: u16::MAX.into(),
        });
    }
    Ok(())
}

/// ```text
/// struct {
///     opaque user<V>;        // mimi://<provider domain>/u/<user>, UTF-8
///     uint16 cipher_suite;   // RFC 9420 §17.1
/// } GroupKeyPackageRequest;
/// ```
///
/// Asks for one KeyPackage of `cipher_suite` from each client of `user`. The
/// receiving provider answers only for its own users, hands out each KeyPackage
/// at most once, and keeps the last-resort one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct GroupKeyPackageRequest {
    user: VLBytes,
    cipher_suite: u16,
}

impl GroupKeyPackageRequest {
    const NAME: &'static str = "GroupKeyPackageRequest";
    const USER: &'static str = "GroupKeyPackageRequest.user";
    const CIPHER_SUITE: &'static str = "GroupKeyPackageRequest.cipher_suite";

    pub const MAX_LEN: usize = 2 + MAX_ID_LEN + 2;

    /// A request for the KeyPackages of the user whose canonical `mimi://` URI is
    /// `user` (UTF-8). Bounds are checked by [`encode`](Self::encode), the URI by
    /// the receiver; [`for_user`](Self::for_user) builds it from a [`UserId`].
    pub fn new(user: Vec<u8>, cipher_suite: u16) -> GroupKeyPackageRequest {
        GroupKeyPackageRequest {
            user: user.into(),
            cipher_suite,
        }
    }

    /// A request for `user`'s KeyPackages; `user` must name its domain.
    pub fn for_user(user: &UserId, cipher_suite: u16) -> Result<GroupKeyPackageRequest, WireError> {
        let user = ids::user_uri(Self::USER, user)?;
        Ok(Self::new(user.into_bytes(), cipher_suite))
    }

    /// Decodes exactly one request: `user` 1 to [`MAX_ID_LEN`] bytes (what it means
    /// is checked by [`user`](Self::user)), `cipher_suite` not 0. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<GroupKeyPackageRequest, WireError> {
        decode_with(bytes, Self::MAX_LEN, Self::NAME, |r| {
            Ok(GroupKeyPackageRequest {
                user: r.opaque(Self::USER, 1, MAX_ID_LEN)?,
                cipher_suite: read_cipher_suite(r, Self::CIPHER_SUITE)?,
            })
        })
    }

    /// The TLS serialization; refuses ([`WireError::Unencodable`]) a value that
    /// [`decode`](Self::decode) would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_checked(self, Self::NAME, Self::decode)
    }

    /// `user` as a [`UserId`], if it is a canonical `mimi://<domain>/u/<user>` URI
    /// ([`WireError::InvalidIdentifier`] otherwise). The receiver also checks that
    /// the domain is its own.
    pub fn user(&self) -> Result<UserId, WireError> {
        ids::user(Self::USER, self.user.as_slice())
    }

    /// `user` as sent, unchecked.
    pub fn user_bytes(&self) -> &[u8] {
        self.user.as_slice()
    }

    pub fn cipher_suite(&self) -> u16 {
        self.cipher_suite
    }
}

/// ```text
/// struct {
///     opaque client<V>;        // mimi://<domain>/d/<user>/<device>, UTF-8
///     opaque key_package<V>;   // a bare RFC 9420 KeyPackage (not an MLSMessage)
/// } ClientKeyPackage;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct ClientKeyPackage {
    client: VLBytes,
    key_package: VLBytes,
}

impl ClientKeyPackage {
    const NAME: &'static str = "ClientKeyPackage";
    const CLIENT: &'static str = "ClientKeyPackage.client";
    const KEY_PACKAGE: &'static str = "ClientKeyPackage.key_package";

    pub const MAX_LEN: usize = 2 + MAX_ID_LEN + 4 + MAX_KEY_PACKAGE_LEN;

    /// The KeyPackage (1 to [`MAX_KEY_PACKAGE_LEN`] bytes) of the client whose
    /// canonical `mimi://` device URI is `client` (UTF-8). Bounds are checked by
    /// [`encode`](Self::encode); [`for_device`](Self::for_device) builds it from a
    /// [`DeviceId`].
    pub fn new(client: Vec<u8>, key_package: Vec<u8>) -> ClientKeyPackage {
        ClientKeyPackage {
            client: client.into(),
            key_package: key_package.into(),
        }
    }

    /// `client`'s KeyPackage; `client` must name its user and domain.
    pub fn for_device(
        client: &DeviceId,
        key_package: Vec<u8>,
    ) -> Result<ClientKeyPackage, WireError> {
        let client = ids::device_uri(Self::CLIENT, client)?;
        Ok(Self::new(client.into_bytes(), key_package))
    }

    /// Decodes exactly one `ClientKeyPackage`. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<ClientKeyPackage, WireError> {
        decode_with(bytes, Self::MAX_LEN, Self::NAME, Self::read)
    }

    fn read(r: &mut Reader<'_>) -> Result<ClientKeyPackage, WireError> {
        Ok(ClientKeyPackage {
            client: r.opaque(Self::CLIENT, 1, MAX_ID_LEN)?,
            key_package: r.opaque(Self::KEY_PACKAGE, 1, MAX_KEY_PACKAGE_LEN)?,
        })
    }

    /// The TLS serialization; refuses ([`WireError::Unencodable`]) a value that
    /// [`decode`](Self::decode) would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_checked(self, Self::NAME, Self::decode)
    }

    /// `client` as a [`DeviceId`], if it is a canonical
    /// `mimi://<domain>/d/<user>/<device>` URI.
    pub fn device(&self) -> Result<DeviceId, WireError> {
        ids::device(Self::CLIENT, self.client.as_slice())
    }

    /// `client`, checked to be a device of `user` (the user the request named): a
    /// provider must not slip another user's device into the answer.
    pub fn client_of(&self, user: &UserId) -> Result<DeviceId, WireError> {
        let device = self.device()?;
        if device.user().as_ref() != Some(user) {
            return Err(WireError::InvalidIdentifier {
                field: Self::CLIENT,
                value: quote(self.client.as_slice()),
                reason: format!("not a device of the requested user {user}"),
            });
        }
        Ok(device)
    }

    /// `client` as sent, unchecked: see [`device`](Self::device) and
    /// [`client_of`](Self::client_of).
    pub fn client(&self) -> &[u8] {
        self.client.as_slice()
    }

    /// The KeyPackage, unvalidated: the claiming client validates it.
    pub fn key_package(&self) -> &[u8] {
        self.key_package.as_slice()
    }
}

/// `struct { ClientKeyPackage key_packages<V>; } GroupKeyPackageResponse;`: one
/// KeyPackage per client of the requested user that had one of the cipher suite;
/// empty if none had.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct GroupKeyPackageResponse {
    key_packages: Vec<ClientKeyPackage>,
}

impl GroupKeyPackageResponse {
    const NAME: &'static str = "GroupKeyPackageResponse";
    const KEY_PACKAGES: &'static str = "GroupKeyPackageResponse.key_packages";

    /// Longest encoding: [`MAX_CLIENT_KEY_PACKAGES`] full entries (about 4.1 MiB).
    pub const MAX_LEN: usize = 4 + MAX_CLIENT_KEY_PACKAGES * ClientKeyPackage::MAX_LEN;

    /// A response of 0 to [`MAX_CLIENT_KEY_PACKAGES`] KeyPackages (checked by
    /// [`encode`](Self::encode)).
    pub fn new(key_packages: Vec<ClientKeyPackage>) -> GroupKeyPackageResponse {
        GroupKeyPackageResponse { key_packages }
    }

    /// Decodes exactly one response. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<GroupKeyPackageResponse, WireError> {
        decode_with(bytes, Self::MAX_LEN, Self::NAME, |r| {
            let key_packages = r.list(
                Self::KEY_PACKAGES,
                MAX_CLIENT_KEY_PACKAGES,
                Self::MAX_LEN,
                ClientKeyPackage::read,
            )?;
            Ok(GroupKeyPackageResponse { key_packages })
        })
    }

    /// The TLS serialization; refuses ([`WireError::Unencodable`]) a value that
    /// [`decode`](Self::decode) would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_checked(self, Self::NAME, Self::decode)
    }

    pub fn key_packages(&self) -> &[ClientKeyPackage] {
        &self.key_packages
    }

    pub fn into_key_packages(self) -> Vec<ClientKeyPackage> {
        self.key_packages
    }
}

/// `struct { opaque connection_token<V>; } ConnectionKeyPackageRequest;`
///
/// A placeholder: §5.8 belongs to the metadata-minimalization work (KeyPackages
/// uploaded anonymously under a connection token), so providers answer 501 until
/// it is defined. The token is 1 to [`MAX_CONNECTION_TOKEN_LEN`] bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct ConnectionKeyPackageRequest {
    connection_token: VLBytes,
}

impl ConnectionKeyPackageRequest {
    const NAME: &'static str = "ConnectionKeyPackageRequest";
    const TOKEN: &'static str = "ConnectionKeyPackageRequest.connection_token";

    pub const MAX_LEN: usize = 2 + MAX_CONNECTION_TOKEN_LEN;

    /// A request for `connection_token` (bounds checked by [`encode`](Self::encode)).
    pub fn new(connection_token: Vec<u8>) -> ConnectionKeyPackageRequest {
        ConnectionKeyPackageRequest {
            connection_token: connection_token.into(),
        }
    }

    /// Decodes exactly one request. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<ConnectionKeyPackageRequest, WireError> {
        decode_with(bytes, Self::MAX_LEN, Self::NAME, |r| {
            Ok(ConnectionKeyPackageRequest {
                connection_token: r.opaque(Self::TOKEN, 1, MAX_CONNECTION_TOKEN_LEN)?,
            })
        })
    }

    /// The TLS serialization; refuses ([`WireError::Unencodable`]) a value that
    /// [`decode`](Self::decode) would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_checked(self, Self::NAME, Self::decode)
    }

    pub fn connection_token(&self) -> &[u8] {
        self.connection_token.as_slice()
    }
}
