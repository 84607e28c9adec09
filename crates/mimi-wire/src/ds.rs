//! The hub's (delivery service's) request and response structures:
//! draft-kohbrok-mimi-transport §5.2-5.4 (`/group_operation`,
//! `/welcome_information`, `/external_commit_information`) with the operation set
//! of draft-robert-mimi-delivery-service (-05 §9, numbered as in -04 §6.1), and the
//! [`FanoutMessage`] a hub puts in each member's queue.
//!
//! mimi-wire does not parse MLS: every MLS object travels as `opaque <V>` (the
//! draft inlines `MLSMessage`; the length prefix lets a receiver bound each field
//! before an MLS parser sees it — docs/draft-divergences.md, "Hub"). The hub parses
//! and validates them with OpenMLS (mimi-mls `hub`), and checks the member's
//! signature ([`DSRequest::signed_content`]) with the key of the sender's leaf.
//!
//! docs/wire-spec.md §14 gives the exact bytes and the checks a hub makes.

use tls_codec::{Serialize as _, TlsSerialize, TlsSize, VLBytes};

use crate::client_api::{MAX_CERTIFICATE_LEN, MAX_CERTIFICATES, MAX_CRLS, MAX_CRLS_LEN};
use crate::error::WireError;
use crate::framing::ProtocolVersion;
use crate::labels;
use crate::qs::MAX_MESSAGE_LEN;
use crate::reader::{Reader, decode_with, encode, encode_checked};
use crate::signature::sign_content;

/// Longest MLS group ID: 255 bytes (OpenMLS makes 16 random bytes).
pub const MAX_GROUP_ID_LEN: usize = 255;

/// Length of a request ID: 128 random bits.
pub const DS_REQUEST_ID_LEN: usize = 16;

/// Longest signature: as [`MAX_SIGNATURE_LEN`](crate::client_api::MAX_SIGNATURE_LEN).
pub const MAX_DS_SIGNATURE_LEN: usize = crate::client_api::MAX_SIGNATURE_LEN;

/// Longest domain in a [`FanoutMessage`] (the DNS limit).
const MAX_DOMAIN_LEN: usize = 253;

/// What a [`FanoutMessage`] adds to the MLS message it carries, at most: the hub
/// domain (2 + 253), the group ID (2 + 255), two `uint64`, and the message's own
/// 4-byte length.
pub const FANOUT_OVERHEAD: usize = 2 + MAX_DOMAIN_LEN + 2 + MAX_GROUP_ID_LEN + 8 + 8 + 4;

/// Largest MLS message (commit, proposal, Welcome, application message) a hub
/// accepts: whatever fits one queue message ([`MAX_MESSAGE_LEN`], 1 MiB) once
/// wrapped in a [`FanoutMessage`].
pub const MAX_MLS_MESSAGE_LEN: usize = MAX_MESSAGE_LEN - FANOUT_OVERHEAD;

/// Largest GroupInfo (an `MLSMessage`): 1 MiB. Clients send it without the
/// ratchet tree extension; the hub serves the tree separately.
pub const MAX_GROUP_INFO_LEN: usize = 1 << 20;

/// Largest ratchet tree (TLS `Node ratchet_tree<V>`): 32 MiB, about 15,000
/// members with three-certificate X.509 chains.
pub const MAX_RATCHET_TREE_LEN: usize = 32 << 20;

/// Largest ratchet tree of a new group (its creator alone): 1 MiB.
pub const MAX_CREATE_TREE_LEN: usize = 1 << 20;

/// Content bound of a `crls` vector: as the client API's.
const MAX_CRLS_VECTOR_LEN: usize = MAX_CRLS_LEN;

/// Content bound of a certificate chain vector.
const MAX_CHAIN_VECTOR_LEN: usize = MAX_CERTIFICATES * (4 + MAX_CERTIFICATE_LEN);

/// Longest [`MlsGroupUpdate`].
const MAX_GROUP_UPDATE_LEN: usize = 4 + MAX_MLS_MESSAGE_LEN + 4 + MAX_GROUP_INFO_LEN;

fn read_crls(r: &mut Reader<'_>, field: &'static str) -> Result<Vec<VLBytes>, WireError> {
    r.list(field, MAX_CRLS, MAX_CRLS_VECTOR_LEN, |r| {
        r.opaque(field, 1, MAX_CRLS_LEN)
    })
}

fn slices(items: &[VLBytes]) -> Vec<&[u8]> {
    items.iter().map(VLBytes::as_slice).collect()
}

fn vl_list(items: Vec<Vec<u8>>) -> Vec<VLBytes> {
    items.into_iter().map(VLBytes::from).collect()
}

/// ```text
/// enum {
///     reserved(0), create_group(1), add_clients(5), remove_clients(6),
///     self_remove_client(7), update_client(8), external_join(9),
///     send_message(10), (255)
/// } DSRequestType;
/// ```
///
/// The values of draft-robert-mimi-delivery-service-04 §6.1 for the operations
/// we implement; the others (2-4, 11-14) are refused as unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum DSRequestType {
    CreateGroup = 1,
    AddClients = 5,
    RemoveClients = 6,
    SelfRemoveClient = 7,
    UpdateClient = 8,
    ExternalJoin = 9,
    SendMessage = 10,
}

impl DSRequestType {
    /// Every type, in wire-value order.
    pub const ALL: [DSRequestType; 7] = [
        DSRequestType::CreateGroup,
        DSRequestType::AddClients,
        DSRequestType::RemoveClients,
        DSRequestType::SelfRemoveClient,
        DSRequestType::UpdateClient,
        DSRequestType::ExternalJoin,
        DSRequestType::SendMessage,
    ];

    pub fn value(self) -> u8 {
        self as u8
    }

    pub fn from_value(value: u8) -> Option<DSRequestType> {
        Self::ALL.into_iter().find(|t| t.value() == value)
    }

    /// The draft's name, e.g. `"add_clients"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DSRequestType::CreateGroup => "create_group",
            DSRequestType::AddClients => "add_clients",
            DSRequestType::RemoveClients => "remove_clients",
            DSRequestType::SelfRemoveClient => "self_remove_client",
            DSRequestType::UpdateClient => "update_client",
            DSRequestType::ExternalJoin => "external_join",
            DSRequestType::SendMessage => "send_message",
        }
    }
}

/// ```text
/// struct {
///     opaque commit<V>;      // MLSMessage: a PublicMessage commit
///     opaque group_info<V>;  // MLSMessage: the new epoch's GroupInfo, signed
///                            // by the committer, without the ratchet tree
/// } MLSGroupUpdate;
/// ```
///
/// draft-robert-mimi-delivery-service §9's `MLSGroupUpdate`, with a whole
/// GroupInfo instead of a `PartialGroupInfo`: the hub checks it against the
/// state the commit produces and serves it to external joiners.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct MlsGroupUpdate {
    commit: VLBytes,
    group_info: VLBytes,
}

impl MlsGroupUpdate {
    pub fn new(commit: Vec<u8>, group_info: Vec<u8>) -> MlsGroupUpdate {
        MlsGroupUpdate {
            commit: commit.into(),
            group_info: group_info.into(),
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<MlsGroupUpdate, WireError> {
        Ok(MlsGroupUpdate {
            commit: r.opaque("MLSGroupUpdate.commit", 1, MAX_MLS_MESSAGE_LEN)?,
            group_info: r.opaque("MLSGroupUpdate.group_info", 1, MAX_GROUP_INFO_LEN)?,
        })
    }

    pub fn commit(&self) -> &[u8] {
        self.commit.as_slice()
    }

    pub fn group_info(&self) -> &[u8] {
        self.group_info.as_slice()
    }
}

/// One operation and its MLS objects (draft-robert -05 §9, -04 §6.1 for
/// `create_group`):
///
/// ```text
/// struct { opaque group_info<V>; opaque ratchet_tree<V>; opaque crls<V>; }
///     CreateGroupRequest;
/// struct { MLSGroupUpdate group_update; opaque welcome<V>; opaque crls<V>; }
///     AddClientsRequest;
/// struct { MLSGroupUpdate group_update; } RemoveClientsRequest;
/// struct { opaque proposal<V>; } SelfRemoveClientRequest;
/// struct { MLSGroupUpdate group_update; opaque crls<V>; } UpdateClientRequest;
/// struct { MLSGroupUpdate group_update; opaque crls<V>; } ExternalJoinRequest;
/// struct { opaque application_message<V>; } SendMessageRequest;
/// ```
///
/// `crls` (each `opaque crl<V>`, DER) are the revocation lists the hub needs to
/// verify the new leaves' certificate chains: CRLs are signed by their CAs, so
/// whoever relays them cannot alter them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
#[repr(u8)]
pub enum DSOperation {
    #[tls_codec(discriminant = 1)]
    CreateGroup {
        group_info: VLBytes,
        ratchet_tree: VLBytes,
        crls: Vec<VLBytes>,
    },
    #[tls_codec(discriminant = 5)]
    AddClients {
        group_update: MlsGroupUpdate,
        welcome: VLBytes,
        crls: Vec<VLBytes>,
    },
    #[tls_codec(discriminant = 6)]
    RemoveClients { group_update: MlsGroupUpdate },
    #[tls_codec(discriminant = 7)]
    SelfRemoveClient { proposal: VLBytes },
    #[tls_codec(discriminant = 8)]
    UpdateClient {
        group_update: MlsGroupUpdate,
        crls: Vec<VLBytes>,
    },
    #[tls_codec(discriminant = 9)]
    ExternalJoin {
        group_update: MlsGroupUpdate,
        crls: Vec<VLBytes>,
    },
    #[tls_codec(discriminant = 10)]
    SendMessage { application_message: VLBytes },
}

impl DSOperation {
    /// Longest encoding: an add with a full Welcome and full CRLs (about 10 MiB).
    pub const MAX_LEN: usize =
        1 + MAX_GROUP_UPDATE_LEN + 4 + MAX_MLS_MESSAGE_LEN + 4 + MAX_CRLS_LEN;

    pub fn create_group(
        group_info: Vec<u8>,
        ratchet_tree: Vec<u8>,
        crls: Vec<Vec<u8>>,
    ) -> DSOperation {
        DSOperation::CreateGroup {
            group_info: group_info.into(),
            ratchet_tree: ratchet_tree.into(),
            crls: vl_list(crls),
        }
    }

    pub fn add_clients(
        update: MlsGroupUpdate,
        welcome: Vec<u8>,
        crls: Vec<Vec<u8>>,
    ) -> DSOperation {
        DSOperation::AddClients {
            group_update: update,
            welcome: welcome.into(),
            crls: vl_list(crls),
        }
    }

    pub fn remove_clients(update: MlsGroupUpdate) -> DSOperation {
        DSOperation::RemoveClients {
            group_update: update,
        }
    }

    pub fn self_remove_client(proposal: Vec<u8>) -> DSOperation {
        DSOperation::SelfRemoveClient {
            proposal: proposal.into(),
        }
    }

    pub fn update_client(update: MlsGroupUpdate, crls: Vec<Vec<u8>>) -> DSOperation {
        DSOperation::UpdateClient {
            group_update: update,
            crls: vl_list(crls),
        }
    }

    pub fn external_join(update: MlsGroupUpdate, crls: Vec<Vec<u8>>) -> DSOperation {
        DSOperation::ExternalJoin {
            group_update: update,
            crls: vl_list(crls),
        }
    }

    pub fn send_message(application_message: Vec<u8>) -> DSOperation {
        DSOperation::SendMessage {
            application_message: application_message.into(),
        }
    }

    pub fn request_type(&self) -> DSRequestType {
        match self {
            DSOperation::CreateGroup { .. } => DSRequestType::CreateGroup,
            DSOperation::AddClients { .. } => DSRequestType::AddClients,
            DSOperation::RemoveClients { .. } => DSRequestType::RemoveClients,
            DSOperation::SelfRemoveClient { .. } => DSRequestType::SelfRemoveClient,
            DSOperation::UpdateClient { .. } => DSRequestType::UpdateClient,
            DSOperation::ExternalJoin { .. } => DSRequestType::ExternalJoin,
            DSOperation::SendMessage { .. } => DSRequestType::SendMessage,
        }
    }

    /// The commit and GroupInfo of a commit-carrying operation.
    pub fn group_update(&self) -> Option<&MlsGroupUpdate> {
        match self {
            DSOperation::AddClients { group_update, .. }
            | DSOperation::RemoveClients { group_update }
            | DSOperation::UpdateClient { group_update, .. }
            | DSOperation::ExternalJoin { group_update, .. } => Some(group_update),
            _ => None,
        }
    }

    /// The CRLs (DER, unverified) sent with the operation; empty if it has none.
    pub fn crls(&self) -> Vec<&[u8]> {
        match self {
            DSOperation::CreateGroup { crls, .. }
            | DSOperation::AddClients { crls, .. }
            | DSOperation::UpdateClient { crls, .. }
            | DSOperation::ExternalJoin { crls, .. } => slices(crls),
            _ => Vec::new(),
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<DSOperation, WireError> {
        const CRLS: &str = "DSRequestBody.crls";
        let value = r.u8()?;
        let request_type = DSRequestType::from_value(value).ok_or(WireError::UnknownValue {
            field: "DSRequestBody.request_type",
            value: value.into(),
        })?;
        Ok(match request_type {
            DSRequestType::CreateGroup => DSOperation::CreateGroup {
                group_info: r.opaque("CreateGroupRequest.group_info", 1, MAX_GROUP_INFO_LEN)?,
                ratchet_tree: r.opaque(
                    "CreateGroupRequest.ratchet_tree",
                    1,
                    MAX_CREATE_TREE_LEN,
                )?,
                crls: read_crls(r, CRLS)?,
            },
            DSRequestType::AddClients => DSOperation::AddClients {
                group_update: MlsGroupUpdate::read(r)?,
                welcome: r.opaque("AddClientsRequest.welcome", 1, MAX_MLS_MESSAGE_LEN)?,
                crls: read_crls(r, CRLS)?,
            },
            DSRequestType::RemoveClients => DSOperation::RemoveClients {
                group_update: MlsGroupUpdate::read(r)?,
            },
            DSRequestType::SelfRemoveClient => DSOperation::SelfRemoveClient {
                proposal: r.opaque("SelfRemoveClientRequest.proposal", 1, MAX_MLS_MESSAGE_LEN)?,
            },
            DSRequestType::UpdateClient => DSOperation::UpdateClient {
                group_update: MlsGroupUpdate::read(r)?,
                crls: read_crls(r, CRLS)?,
            },
            DSRequestType::ExternalJoin => DSOperation::ExternalJoin {
                group_update: MlsGroupUpdate::read(r)?,
                crls: read_crls(r, CRLS)?,
            },
            DSRequestType::SendMessage => DSOperation::SendMessage {
                application_message: r.opaque(
                    "SendMessageRequest.application_message",
                    1,
                    MAX_MLS_MESSAGE_LEN,
                )?,
            },
        })
    }
}

/// ```text
/// struct {
///     opaque group_id<V>;        // the MLS group (1 to 255 bytes)
///     uint64 created_at_ms;      // Unix milliseconds, by the member's clock
///     opaque request_id[16];     // random, unique per member request
///     DSRequestType request_type;
///     select (request_type) { ... see DSOperation ... };
/// } DSRequestBody;
/// ```
///
/// draft-robert's `DSRequestBody` with three fields added in front: the group
/// (the draft finds it in the MLS message, which `create_group` and a Welcome
/// lack), and a creation time and request ID so that a hub refuses a replayed
/// request (the member signs them; its provider cannot refresh them).
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct DSRequestBody {
    group_id: VLBytes,
    created_at_ms: u64,
    request_id: [u8; DS_REQUEST_ID_LEN],
    operation: DSOperation,
}

impl DSRequestBody {
    /// Longest encoding.
    pub const MAX_LEN: usize = 2 + MAX_GROUP_ID_LEN + 8 + DS_REQUEST_ID_LEN + DSOperation::MAX_LEN;

    /// A request body with a fresh random request ID.
    pub fn new(
        group_id: Vec<u8>,
        created_at_ms: u64,
        operation: DSOperation,
    ) -> Result<DSRequestBody, WireError> {
        let mut request_id = [0u8; DS_REQUEST_ID_LEN];
        aws_lc_rs::rand::fill(&mut request_id).map_err(|_| WireError::Random)?;
        Ok(Self::with_id(
            group_id,
            created_at_ms,
            request_id,
            operation,
        ))
    }

    /// A request body with a given ID: for retries and test vectors.
    pub fn with_id(
        group_id: Vec<u8>,
        created_at_ms: u64,
        request_id: [u8; DS_REQUEST_ID_LEN],
        operation: DSOperation,
    ) -> DSRequestBody {
        DSRequestBody {
            group_id: group_id.into(),
            created_at_ms,
            request_id,
            operation,
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<DSRequestBody, WireError> {
        Ok(DSRequestBody {
            group_id: r.opaque("DSRequestBody.group_id", 1, MAX_GROUP_ID_LEN)?,
            created_at_ms: r.u64()?,
            request_id: r.array()?,
            operation: DSOperation::read(r)?,
        })
    }

    pub fn group_id(&self) -> &[u8] {
        self.group_id.as_slice()
    }

    pub fn created_at_ms(&self) -> u64 {
        self.created_at_ms
    }

    pub fn request_id(&self) -> &[u8; DS_REQUEST_ID_LEN] {
        &self.request_id
    }

    pub fn operation(&self) -> &DSOperation {
        &self.operation
    }
}

/// ```text
/// enum { reserved(0), client_signature(1), (255) } DSAuthType;
/// struct {
///     DSAuthType auth_type = client_signature;
///     uint32 sender_index;       // the signer's leaf index
///     opaque signature<V>;
/// } DSAuthData;
/// ```
///
/// draft-robert's `DSAuthData`; its `Unauthenticated` type is refused (every
/// operation we implement is a member's), so only `client_signature` decodes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct DSAuthData {
    auth_type: u8,
    sender_index: u32,
    signature: VLBytes,
}

const CLIENT_SIGNATURE: u8 = 1;

/// ```text
/// struct {
///     ProtocolVersion version = mimi10;
///     DSRequestBody request_body;
///     DSAuthData authentication_data;
/// } DSRequest;
/// ```
///
/// The body of `POST /group_operation` (in an `EventEnvelope`) and of the client
/// API's `hub` operation. The signature is the sender leaf's, over
/// [`signed_content`](Self::signed_content).
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct DSRequest {
    version: ProtocolVersion,
    body: DSRequestBody,
    auth: DSAuthData,
}

impl DSRequest {
    const NAME: &'static str = "DSRequest";

    /// Longest encoding.
    pub const MAX_LEN: usize = 2 + DSRequestBody::MAX_LEN + 1 + 4 + 2 + MAX_DS_SIGNATURE_LEN;

    /// The bytes a member signs for `body` from leaf `sender_index`:
    /// `SignContent { label = "MIMI 1.0 DSRequest", content = ClientSignatureTBS }`
    /// with
    ///
    /// ```text
    /// struct {
    ///     ProtocolVersion version = mimi10;
    ///     DSRequestBody request_body;
    ///     uint32 sender_index;
    /// } ClientSignatureTBS;
    /// ```
    ///
    /// (draft-robert's `ClientSignatureTBS`), signed with the MLS signature key of
    /// that leaf as MLS `SignWithLabel` signs, the label spelled out.
    pub fn content_to_sign(body: &DSRequestBody, sender_index: u32) -> Result<Vec<u8>, WireError> {
        sign_content(labels::DS_REQUEST, &Self::tbs_of(body, sender_index)?)
    }

    /// The `ClientSignatureTBS` alone (what `SignContent.content` holds), for
    /// verifiers that build `SignContent` themselves from
    /// [`labels::DS_REQUEST`].
    pub fn tbs_of(body: &DSRequestBody, sender_index: u32) -> Result<Vec<u8>, WireError> {
        let mut tbs = encode(&ProtocolVersion::Mimi10, Self::NAME)?;
        body.tls_serialize(&mut tbs)
            .map_err(|e| WireError::encoding(Self::NAME, e))?;
        sender_index
            .tls_serialize(&mut tbs)
            .map_err(|e| WireError::encoding(Self::NAME, e))?;
        Ok(tbs)
    }

    /// This request's `ClientSignatureTBS` (see [`tbs_of`](Self::tbs_of)).
    pub fn tbs(&self) -> Result<Vec<u8>, WireError> {
        Self::tbs_of(&self.body, self.auth.sender_index)
    }

    /// A signed request: `signature` is the sender's over
    /// [`content_to_sign`](Self::content_to_sign)`(&body, sender_index)`.
    pub fn new(body: DSRequestBody, sender_index: u32, signature: Vec<u8>) -> DSRequest {
        DSRequest {
            version: ProtocolVersion::Mimi10,
            body,
            auth: DSAuthData {
                auth_type: CLIENT_SIGNATURE,
                sender_index,
                signature: signature.into(),
            },
        }
    }

    /// Decodes exactly one request. Refuses another version than mimi10, an
    /// unknown operation or authentication type, and every field outside its
    /// bound. Never panics; checks no signature.
    pub fn decode(bytes: &[u8]) -> Result<DSRequest, WireError> {
        decode_with(bytes, Self::MAX_LEN, Self::NAME, |r| {
            let version = r.u16()?;
            if version != ProtocolVersion::Mimi10.value() {
                return Err(WireError::UnsupportedVersion { version });
            }
            let body = DSRequestBody::read(r)?;
            let auth_type = r.u8()?;
            if auth_type != CLIENT_SIGNATURE {
                return Err(WireError::UnknownValue {
                    field: "DSAuthData.auth_type",
                    value: auth_type.into(),
                });
            }
            let sender_index = r.u32()?;
            let signature = r.opaque("DSAuthData.signature", 1, MAX_DS_SIGNATURE_LEN)?;
            Ok(DSRequest {
                version: ProtocolVersion::Mimi10,
                body,
                auth: DSAuthData {
                    auth_type,
                    sender_index,
                    signature,
                },
            })
        })
    }

    /// The TLS serialization; refuses what [`decode`](Self::decode) would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_checked(self, Self::NAME, Self::decode)
    }

    pub fn body(&self) -> &DSRequestBody {
        &self.body
    }

    pub fn sender_index(&self) -> u32 {
        self.auth.sender_index
    }

    pub fn signature(&self) -> &[u8] {
        self.auth.signature.as_slice()
    }

    /// The bytes the signature covers (see [`content_to_sign`](Self::content_to_sign)).
    pub fn signed_content(&self) -> Result<Vec<u8>, WireError> {
        Self::content_to_sign(&self.body, self.auth.sender_index)
    }
}

/// ```text
/// enum { reserved(0), accepted(1), welcome_info(2), external_commit_info(3), (255) }
///     DSResponseType;
/// struct {
///     ProtocolVersion version = mimi10;
///     DSResponseType response_type;
///     select (response_type) {
///         case accepted:
///             uint64 epoch;             // the group's epoch after the operation
///             uint64 group_sequence;    // the hub's order number for it
///             uint64 hub_timestamp_ms;  // when the hub accepted it
///         case welcome_info:
///             opaque ratchet_tree<V>;
///         case external_commit_info:
///             opaque group_info<V>;
///             opaque ratchet_tree<V>;
///     };
/// } DSResponse;
/// ```
///
/// A successful answer of the hub (HTTP 200). A refusal is an RFC 9457 problem
/// document like every other endpoint's (docs/wire-spec.md §14.6), not a
/// `DSError`: draft-robert leaves `DSError` a TODO.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DSResponse {
    Accepted {
        epoch: u64,
        group_sequence: u64,
        hub_timestamp_ms: u64,
    },
    WelcomeInfo {
        ratchet_tree: Vec<u8>,
    },
    ExternalCommitInfo {
        group_info: Vec<u8>,
        ratchet_tree: Vec<u8>,
    },
}

impl DSResponse {
    const NAME: &'static str = "DSResponse";

    /// Longest encoding.
    pub const MAX_LEN: usize = 2 + 1 + 4 + MAX_GROUP_INFO_LEN + 4 + MAX_RATCHET_TREE_LEN;

    pub fn decode(bytes: &[u8]) -> Result<DSResponse, WireError> {
        decode_with(bytes, Self::MAX_LEN, Self::NAME, |r| {
            let version = r.u16()?;
            if version != ProtocolVersion::Mimi10.value() {
                return Err(WireError::UnsupportedVersion { version });
            }
            let response_type = r.u8()?;
            Ok(match response_type {
                1 => DSResponse::Accepted {
                    epoch: r.u64()?,
                    group_sequence: r.u64()?,
                    hub_timestamp_ms: r.u64()?,
                },
                2 => DSResponse::WelcomeInfo {
                    ratchet_tree: r
                        .opaque("DSResponse.ratchet_tree", 1, MAX_RATCHET_TREE_LEN)?
                        .into(),
                },
                3 => DSResponse::ExternalCommitInfo {
                    group_info: r
                        .opaque("DSResponse.group_info", 1, MAX_GROUP_INFO_LEN)?
                        .into(),
                    ratchet_tree: r
                        .opaque("DSResponse.ratchet_tree", 1, MAX_RATCHET_TREE_LEN)?
                        .into(),
                },
                other => {
                    return Err(WireError::UnknownValue {
                        field: "DSResponse.response_type",
                        value: other.into(),
                    });
                }
            })
        })
    }

    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let bytes = self.encode_unchecked()?;
        Self::decode(&bytes).map_err(|reason| WireError::Unencodable {
            what: Self::NAME,
            reason: Box::new(reason),
        })?;
        Ok(bytes)
    }

    fn encode_unchecked(&self) -> Result<Vec<u8>, WireError> {
        let enc = |e| WireError::encoding(Self::NAME, e);
        let mut out = encode(&ProtocolVersion::Mimi10, Self::NAME)?;
        match self {
            DSResponse::Accepted {
                epoch,
                group_sequence,
                hub_timestamp_ms,
            } => {
                1u8.tls_serialize(&mut out).map_err(enc)?;
                epoch.tls_serialize(&mut out).map_err(enc)?;
                group_sequence.tls_serialize(&mut out).map_err(enc)?;
                hub_timestamp_ms.tls_serialize(&mut out).map_err(enc)?;
            }
            DSResponse::WelcomeInfo { ratchet_tree } => {
                2u8.tls_serialize(&mut out).map_err(enc)?;
                VLBytes::from(ratchet_tree.clone())
                    .tls_serialize(&mut out)
                    .map_err(enc)?;
            }
            DSResponse::ExternalCommitInfo {
                group_info,
                ratchet_tree,
            } => {
                3u8.tls_serialize(&mut out).map_err(enc)?;
                VLBytes::from(group_info.clone())
                    .tls_serialize(&mut out)
                    .map_err(enc)?;
                VLBytes::from(ratchet_tree.clone())
                    .tls_serialize(&mut out)
                    .map_err(enc)?;
            }
        }
        Ok(out)
    }
}

/// ```text
/// struct {
///     opaque group_id<V>;
///     uint64 epoch;                    // the epoch the Welcome is for
///     opaque joiner_signature_key<V>;  // the joiner's leaf signature key
///     uint64 created_at_ms;
///     opaque signature<V>;             // by joiner_signature_key
/// } WelcomeInfoRequest;
/// ```
///
/// The body of `GET /welcome_information` (§5.3): a client that received a
/// Welcome asks, through its provider, for the ratchet tree of that epoch. The
/// hub answers only for a joiner it recorded as added in that epoch whose
/// provider is the S2S sender, and only if the signature (label
/// `"MIMI 1.0 WelcomeInfoRequest"`, over every field before `signature`) verifies
/// under the joiner's key: the proof that the client holds the new leaf.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct WelcomeInfoRequest {
    group_id: VLBytes,
    epoch: u64,
    joiner_signature_key: VLBytes,
    created_at_ms: u64,
    signature: VLBytes,
}

/// Longest signature key: a DER SubjectPublicKeyInfo or a raw MLS key.
pub const MAX_SIGNATURE_KEY_LEN: usize = 1024;

impl WelcomeInfoRequest {
    const NAME: &'static str = "WelcomeInfoRequest";

    pub const MAX_LEN: usize =
        2 + MAX_GROUP_ID_LEN + 8 + 2 + MAX_SIGNATURE_KEY_LEN + 8 + 2 + MAX_DS_SIGNATURE_LEN;

    /// The bytes the joiner signs: `SignContent` with label
    /// `"MIMI 1.0 WelcomeInfoRequest"` over the fields before `signature`.
    pub fn content_to_sign(
        group_id: &[u8],
        epoch: u64,
        joiner_signature_key: &[u8],
        created_at_ms: u64,
    ) -> Result<Vec<u8>, WireError> {
        sign_content(
            labels::WELCOME_INFO_REQUEST,
            &Self::tbs_of(group_id, epoch, joiner_signature_key, created_at_ms)?,
        )
    }

    /// The signed fields alone (what `SignContent.content` holds).
    pub fn tbs_of(
        group_id: &[u8],
        epoch: u64,
        joiner_signature_key: &[u8],
        created_at_ms: u64,
    ) -> Result<Vec<u8>, WireError> {
        let mut out = Vec::new();
        let enc = |e| WireError::encoding(Self::NAME, e);
        VLBytes::from(group_id.to_vec())
            .tls_serialize(&mut out)
            .map_err(enc)?;
        epoch.tls_serialize(&mut out).map_err(enc)?;
        VLBytes::from(joiner_signature_key.to_vec())
            .tls_serialize(&mut out)
            .map_err(enc)?;
        created_at_ms.tls_serialize(&mut out).map_err(enc)?;
        Ok(out)
    }

    /// This request's signed fields (see [`tbs_of`](Self::tbs_of)).
    pub fn tbs(&self) -> Result<Vec<u8>, WireError> {
        Self::tbs_of(
            self.group_id(),
            self.epoch,
            self.joiner_signature_key(),
            self.created_at_ms,
        )
    }

    pub fn new(
        group_id: Vec<u8>,
        epoch: u64,
        joiner_signature_key: Vec<u8>,
        created_at_ms: u64,
        signature: Vec<u8>,
    ) -> WelcomeInfoRequest {
        WelcomeInfoRequest {
            group_id: group_id.into(),
            epoch,
            joiner_signature_key: joiner_signature_key.into(),
            created_at_ms,
            signature: signature.into(),
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<WelcomeInfoRequest, WireError> {
        decode_with(bytes, Self::MAX_LEN, Self::NAME, |r| {
            Ok(WelcomeInfoRequest {
                group_id: r.opaque("WelcomeInfoRequest.group_id", 1, MAX_GROUP_ID_LEN)?,
                epoch: r.u64()?,
                joiner_signature_key: r.opaque(
                    "WelcomeInfoRequest.joiner_signature_key",
                    1,
                    MAX_SIGNATURE_KEY_LEN,
                )?,
                created_at_ms: r.u64()?,
                signature: r.opaque("WelcomeInfoRequest.signature", 1, MAX_DS_SIGNATURE_LEN)?,
            })
        })
    }

    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_checked(self, Self::NAME, Self::decode)
    }

    pub fn signed_content(&self) -> Result<Vec<u8>, WireError> {
        Self::content_to_sign(
            self.group_id(),
            self.epoch,
            self.joiner_signature_key(),
            self.created_at_ms,
        )
    }

    pub fn group_id(&self) -> &[u8] {
        self.group_id.as_slice()
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn joiner_signature_key(&self) -> &[u8] {
        self.joiner_signature_key.as_slice()
    }

    pub fn created_at_ms(&self) -> u64 {
        self.created_at_ms
    }

    pub fn signature(&self) -> &[u8] {
        self.signature.as_slice()
    }
}

/// ```text
/// struct {
///     opaque group_id<V>;
///     opaque certificate_chain<V>;   // opaque certificate<V> (DER), leaf first
///     opaque crls<V>;                // opaque crl<V> (DER)
///     uint64 created_at_ms;
///     opaque signature<V>;           // by the leaf certificate's key
/// } ExternalCommitInfoRequest;
/// ```
///
/// The body of `GET /external_commit_information` (§5.4): a would-be joiner
/// shows who it is (its credential chain, verified by the hub with the CRLs) and
/// proves it holds the certificate's key (signature, label
/// `"MIMI 1.0 ExternalCommitInfoRequest"`, over every field before
/// `signature`); the hub answers with the GroupInfo and ratchet tree only if
/// the room's policy admits that joiner.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct ExternalCommitInfoRequest {
    group_id: VLBytes,
    certificate_chain: Vec<VLBytes>,
    crls: Vec<VLBytes>,
    created_at_ms: u64,
    signature: VLBytes,
}

impl ExternalCommitInfoRequest {
    const NAME: &'static str = "ExternalCommitInfoRequest";
    const CHAIN: &'static str = "ExternalCommitInfoRequest.certificate_chain";

    pub const MAX_LEN: usize = 2
        + MAX_GROUP_ID_LEN
        + 4
        + MAX_CHAIN_VECTOR_LEN
        + 4
        + MAX_CRLS_VECTOR_LEN
        + 8
        + 2
        + MAX_DS_SIGNATURE_LEN;

    /// The bytes the joiner signs.
    pub fn content_to_sign(
        group_id: &[u8],
        certificate_chain: &[Vec<u8>],
        crls: &[Vec<u8>],
        created_at_ms: u64,
    ) -> Result<Vec<u8>, WireError> {
        let enc = |e| WireError::encoding(Self::NAME, e);
        let mut out = Vec::new();
        VLBytes::from(group_id.to_vec())
            .tls_serialize(&mut out)
            .map_err(enc)?;
        vl_list(certificate_chain.to_vec())
            .tls_serialize(&mut out)
            .map_err(enc)?;
        vl_list(crls.to_vec())
            .tls_serialize(&mut out)
            .map_err(enc)?;
        created_at_ms.tls_serialize(&mut out).map_err(enc)?;
        sign_content(labels::EXTERNAL_COMMIT_INFO_REQUEST, &out)
    }

    pub fn new(
        group_id: Vec<u8>,
        certificate_chain: Vec<Vec<u8>>,
        crls: Vec<Vec<u8>>,
        created_at_ms: u64,
        signature: Vec<u8>,
    ) -> ExternalCommitInfoRequest {
        ExternalCommitInfoRequest {
            group_id: group_id.into(),
            certificate_chain: vl_list(certificate_chain),
            crls: vl_list(crls),
            created_at_ms,
            signature: signature.into(),
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<ExternalCommitInfoRequest, WireError> {
        decode_with(bytes, Self::MAX_LEN, Self::NAME, |r| {
            let group_id = r.opaque("ExternalCommitInfoRequest.group_id", 1, MAX_GROUP_ID_LEN)?;
            let certificate_chain =
                r.list(Self::CHAIN, MAX_CERTIFICATES, MAX_CHAIN_VECTOR_LEN, |r| {
                    r.opaque(Self::CHAIN, 1, MAX_CERTIFICATE_LEN)
                })?;
            if certificate_chain.is_empty() {
                return Err(WireError::EmptyField { field: Self::CHAIN });
            }
            Ok(ExternalCommitInfoRequest {
                group_id,
                certificate_chain,
                crls: read_crls(r, "ExternalCommitInfoRequest.crls")?,
                created_at_ms: r.u64()?,
                signature: r.opaque(
                    "ExternalCommitInfoRequest.signature",
                    1,
                    MAX_DS_SIGNATURE_LEN,
                )?,
            })
        })
    }

    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_checked(self, Self::NAME, Self::decode)
    }

    pub fn signed_content(&self) -> Result<Vec<u8>, WireError> {
        let chain: Vec<Vec<u8>> = self
            .certificate_chain
            .iter()
            .map(|c| c.as_slice().to_vec())
            .collect();
        let crls: Vec<Vec<u8>> = self.crls.iter().map(|c| c.as_slice().to_vec()).collect();
        Self::content_to_sign(self.group_id(), &chain, &crls, self.created_at_ms)
    }

    pub fn group_id(&self) -> &[u8] {
        self.group_id.as_slice()
    }

    pub fn certificate_chain(&self) -> Vec<&[u8]> {
        slices(&self.certificate_chain)
    }

    pub fn crls(&self) -> Vec<&[u8]> {
        slices(&self.crls)
    }

    pub fn created_at_ms(&self) -> u64 {
        self.created_at_ms
    }

    pub fn signature(&self) -> &[u8] {
        self.signature.as_slice()
    }
}

/// ```text
/// struct {
///     opaque hub_domain<V>;      // the hub that accepted the message
///     opaque group_id<V>;
///     uint64 group_sequence;     // the hub's order number in this group
///     uint64 hub_timestamp_ms;   // when the hub accepted it
///     opaque message<V>;         // MLSMessage: handshake, application or Welcome
/// } FanoutMessage;
/// ```
///
/// What a hub delivers (`DeliverMessageRequest.message`) and so what each
/// member finds in its queue: the MLS message with the hub's order and time
/// (draft-ietf-mimi-protocol's `FanoutMessage` carries a timestamp too). The
/// group sequence lets a client see that it missed nothing; it and the
/// timestamp are the hub's claims, not authenticated end to end.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct FanoutMessage {
    hub_domain: VLBytes,
    group_id: VLBytes,
    group_sequence: u64,
    hub_timestamp_ms: u64,
    message: VLBytes,
}

impl FanoutMessage {
    const NAME: &'static str = "FanoutMessage";

    pub const MAX_LEN: usize = MAX_MESSAGE_LEN;

    pub fn new(
        hub_domain: &mimi_identifiers::Domain,
        group_id: Vec<u8>,
        group_sequence: u64,
        hub_timestamp_ms: u64,
        message: Vec<u8>,
    ) -> FanoutMessage {
        FanoutMessage {
            hub_domain: hub_domain.as_str().as_bytes().to_vec().into(),
            group_id: group_id.into(),
            group_sequence,
            hub_timestamp_ms,
            message: message.into(),
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<FanoutMessage, WireError> {
        decode_with(bytes, Self::MAX_LEN, Self::NAME, |r| {
            let hub_domain = r.opaque("FanoutMessage.hub_domain", 1, MAX_DOMAIN_LEN)?;
            crate::framing::canonical_domain("FanoutMessage.hub_domain", hub_domain.as_slice())?;
            Ok(FanoutMessage {
                hub_domain,
                group_id: r.opaque("FanoutMessage.group_id", 1, MAX_GROUP_ID_LEN)?,
                group_sequence: r.u64()?,
                hub_timestamp_ms: r.u64()?,
                message: r.opaque("FanoutMessage.message", 1, MAX_MLS_MESSAGE_LEN)?,
            })
        })
    }

    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_checked(self, Self::NAME, Self::decode)
    }

    /// The hub's domain (canonical: decoding checked it).
    pub fn hub_domain(&self) -> &str {
        // Checked ASCII by decode (and built from a Domain by new).
        std::str::from_utf8(self.hub_domain.as_slice()).unwrap_or_default()
    }

    pub fn group_id(&self) -> &[u8] {
        self.group_id.as_slice()
    }

    pub fn group_sequence(&self) -> u64 {
        self.group_sequence
    }

    pub fn hub_timestamp_ms(&self) -> u64 {
        self.hub_timestamp_ms
    }

    pub fn message(&self) -> &[u8] {
        self.message.as_slice()
    }
}

#[cfg(test)]
mod tests;
