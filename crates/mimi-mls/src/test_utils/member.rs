//! A real OpenMLS client for hub tests: an `MlsGroup` on openmls_rust_crypto's
//! provider and memory storage, handshakes sent as PublicMessage (the hub must
//! see them), application messages encrypted, an X.509 credential whose key is
//! the signer's, the `mimi_queue_reference` leaf extension and MIMI's
//! capabilities.
//!
//! Own commits stay pending in the client until the test says what the hub did:
//! [`TestMember::merge_pending`] after acceptance, [`TestMember::discard_pending`]
//! after a refusal.

use mimi_wire::QueueReference;
use openmls::prelude::{
    Credential, CredentialType, CredentialWithKey, Extension, ExtensionType, Extensions,
    KeyPackage, KeyPackageIn, LeafNodeIndex, LeafNodeParameters,
    MIXED_PLAINTEXT_WIRE_FORMAT_POLICY, MlsGroup, MlsGroupJoinConfig, MlsMessageBodyIn,
    MlsMessageIn, MlsMessageOut, NewSignerBundle, ProcessedMessageContent, ProtocolMessage,
    ProtocolVersion, RatchetTreeIn, RequiredCapabilitiesExtension, StagedWelcome,
};
use openmls_rust_crypto::OpenMlsRustCrypto;
use openmls_traits::OpenMlsProvider;
use tls_codec::{Deserialize, Serialize};

use crate::credential::encode_certificates;
use crate::room_policy::RoomPolicy;
use crate::{capabilities, queue_reference_extension, queue_reference_extension_type};

use super::{KeyPackageParams, TestSigner, TestUtilsError, key_package};

fn fail(what: &'static str) -> impl Fn(&dyn std::fmt::Debug) -> TestUtilsError {
    move |e| TestUtilsError::Build(format!("{what}: {e:?}"))
}

/// What a commit produced: the commit, the Welcome if it added members, and
/// the committer's GroupInfo for the new epoch (all `MLSMessage` encodings).
#[derive(Debug, Clone)]
pub struct CommitMessages {
    pub commit: Vec<u8>,
    pub welcome: Option<Vec<u8>>,
    pub group_info: Vec<u8>,
}

/// A group member (or a client about to become one).
#[derive(Debug)]
pub struct TestMember {
    provider: OpenMlsRustCrypto,
    signer: TestSigner,
    credential: CredentialWithKey,
    queue_reference: QueueReference,
    group: Option<MlsGroup>,
}

fn encode(message: &MlsMessageOut) -> Result<Vec<u8>, TestUtilsError> {
    message
        .tls_serialize_detached()
        .map_err(|e| fail("encoding a message")(&e))
}

fn decode(bytes: &[u8]) -> Result<MlsMessageIn, TestUtilsError> {
    MlsMessageIn::tls_deserialize(&mut &bytes[..]).map_err(|e| fail("decoding a message")(&e))
}

fn x509(chain: &[Vec<u8>], signer: &TestSigner) -> Result<CredentialWithKey, TestUtilsError> {
    Ok(CredentialWithKey {
        credential: Credential::new(
            CredentialType::X509,
            encode_certificates(chain).map_err(|e| fail("credential")(&e))?,
        ),
        signature_key: signer.public_key().into(),
    })
}

fn join_config() -> MlsGroupJoinConfig {
    MlsGroupJoinConfig::builder()
        .wire_format_policy(MIXED_PLAINTEXT_WIRE_FORMAT_POLICY)
        .use_ratchet_tree_extension(false)
        .build()
}

impl TestMember {
    /// A client whose credential is `chain` (DER, leaf first; the certificate
    /// should certify `signer`'s key, unless a test wants it not to) and whose
    /// queue is `queue_reference`.
    pub fn new(
        chain: Vec<Vec<u8>>,
        signer: TestSigner,
        queue_reference: QueueReference,
    ) -> Result<TestMember, TestUtilsError> {
        let credential = x509(&chain, &signer)?;
        Ok(TestMember {
            provider: OpenMlsRustCrypto::default(),
            signer,
            credential,
            queue_reference,
            group: None,
        })
    }

    fn group(&self) -> Result<&MlsGroup, TestUtilsError> {
        self.group
            .as_ref()
            .ok_or_else(|| TestUtilsError::Build("not in a group".into()))
    }

    fn leaf_parameters(&self) -> Result<LeafNodeParameters, TestUtilsError> {
        let ext = queue_reference_extension(&self.queue_reference)
            .map_err(|e| fail("queue reference")(&e))?;
        Ok(LeafNodeParameters::builder()
            .with_capabilities(capabilities())
            .with_extensions(Extensions::single(ext).map_err(|e| fail("extensions")(&e))?)
            .build())
    }

    pub fn signer(&self) -> &TestSigner {
        &self.signer
    }

    /// A fresh KeyPackage of this client (bare TLS encoding).
    pub fn key_package(&self) -> Result<Vec<u8>, TestUtilsError> {
        let chain =
            crate::certificate_chain(&self.credential.credential).map_err(|e| fail("chain")(&e))?;
        let params = KeyPackageParams::new(&self.signer, chain, self.queue_reference.clone());
        let built = key_package(&params)?;
        // Keep the private keys where OpenMLS looks for them on Welcome.
        use openmls_traits::storage::StorageProvider as _;
        let kp_ref = built
            .key_package()
            .hash_ref(self.provider.crypto())
            .map_err(|e| fail("key package ref")(&e))?;
        self.provider
            .storage()
            .write_key_package(&kp_ref, &built.bundle)
            .map_err(|e| fail("storing the key package")(&e))?;
        Ok(built.bytes)
    }

    /// Creates a group with MIMI's required capabilities (x509,
    /// `mimi_queue_reference`, and `mimi_room_policy` with a policy) and returns
    /// its GroupInfo (`MLSMessage`, with external_pub) and ratchet tree (TLS).
    pub fn create_group(
        &mut self,
        policy: Option<&RoomPolicy>,
    ) -> Result<(Vec<u8>, Vec<u8>), TestUtilsError> {
        let mut required = vec![queue_reference_extension_type()];
        let mut extensions = Vec::new();
        if let Some(policy) = policy {
            required.push(crate::room_policy_extension_type());
            extensions.push(policy.to_extension().map_err(|e| fail("policy")(&e))?);
        }
        extensions.push(Extension::RequiredCapabilities(
            RequiredCapabilitiesExtension::new(&required, &[], &[CredentialType::X509]),
        ));
        self.create_group_with(
            Extensions::from_vec(extensions).map_err(|e| fail("extensions")(&e))?,
        )
    }

    /// Creates a group with exactly these GroupContext extensions (to build
    /// groups the hub refuses).
    pub fn create_group_with(
        &mut self,
        extensions: Extensions<openmls::group::GroupContext>,
    ) -> Result<(Vec<u8>, Vec<u8>), TestUtilsError> {
        let ext = queue_reference_extension(&self.queue_reference)
            .map_err(|e| fail("queue reference")(&e))?;
        let group = MlsGroup::builder()
            .ciphersuite(self.signer.cipher_suite())
            .with_wire_format_policy(MIXED_PLAINTEXT_WIRE_FORMAT_POLICY)
            .use_ratchet_tree_extension(false)
            .with_capabilities(capabilities())
            .with_leaf_node_extensions(Extensions::single(ext).map_err(|e| fail("leaf ext")(&e))?)
            .map_err(|e| fail("leaf extensions")(&e))?
            .with_group_context_extensions(extensions)
            .build(&self.provider, &self.signer, self.credential.clone())
            .map_err(|e| fail("creating the group")(&e))?;
        self.group = Some(group);
        Ok((self.export_group_info()?, self.ratchet_tree()?))
    }

    /// A GroupInfo of the current epoch signed by this member (`MLSMessage`).
    pub fn export_group_info(&self) -> Result<Vec<u8>, TestUtilsError> {
        let group = self.group()?;
        let info = group
            .export_group_info(self.provider.crypto(), &self.signer, false)
            .map_err(|e| fail("group info")(&e))?;
        encode(&info)
    }

    /// The ratchet tree of the current epoch (TLS).
    pub fn ratchet_tree(&self) -> Result<Vec<u8>, TestUtilsError> {
        self.group()?
            .export_ratchet_tree()
            .tls_serialize_detached()
            .map_err(|e| fail("tree")(&e))
    }

    /// The serialized GroupContext of the current epoch (what member signatures
    /// cover; see [`super::forge`]).
    pub fn group_context(&self) -> Result<Vec<u8>, TestUtilsError> {
        self.group()?
            .public_group()
            .group_context()
            .tls_serialize_detached()
            .map_err(|e| fail("context")(&e))
    }

    fn finish(
        bundle: openmls::prelude::CommitMessageBundle,
    ) -> Result<CommitMessages, TestUtilsError> {
        let (commit, welcome, group_info) = bundle.into_messages();
        Ok(CommitMessages {
            commit: encode(&commit)?,
            welcome: welcome.as_ref().map(encode).transpose()?,
            group_info: encode(
                &group_info.ok_or_else(|| TestUtilsError::Build("no group info".into()))?,
            )?,
        })
    }

    /// Commits Add proposals for `key_packages` (bare TLS KeyPackages), plus
    /// every queued proposal. The commit stays pending.
    pub fn add(&mut self, key_packages: &[Vec<u8>]) -> Result<CommitMessages, TestUtilsError> {
        let mut kps: Vec<KeyPackage> = Vec::new();
        for bytes in key_packages {
            let kp = KeyPackageIn::tls_deserialize(&mut &bytes[..])
                .map_err(|e| fail("key package")(&e))?
                .validate(self.provider.crypto(), ProtocolVersion::Mls10)
                .map_err(|e| fail("key package")(&e))?;
            kps.push(kp);
        }
        let provider = &self.provider;
        let signer = &self.signer;
        let group = self
            .group
            .as_mut()
            .ok_or_else(|| TestUtilsError::Build("no group".into()))?;
        let bundle = group
            .commit_builder()
            .propose_adds(kps)
            .load_psks(provider.storage())
            .map_err(|e| fail("psks")(&e))?
            .create_group_info(true)
            .build(provider.rand(), provider.crypto(), signer, |_| true)
            .map_err(|e| fail("building the commit")(&e))?
            .stage_commit(provider)
            .map_err(|e| fail("staging the commit")(&e))?;
        Self::finish(bundle)
    }

    /// Commits Remove proposals for `leaves`, plus every queued proposal.
    pub fn remove(&mut self, leaves: &[u32]) -> Result<CommitMessages, TestUtilsError> {
        let provider = &self.provider;
        let signer = &self.signer;
        let group = self
            .group
            .as_mut()
            .ok_or_else(|| TestUtilsError::Build("no group".into()))?;
        let bundle = group
            .commit_builder()
            .propose_removals(leaves.iter().map(|l| LeafNodeIndex::new(*l)))
            .load_psks(provider.storage())
            .map_err(|e| fail("psks")(&e))?
            .create_group_info(true)
            .build(provider.rand(), provider.crypto(), signer, |_| true)
            .map_err(|e| fail("building the commit")(&e))?
            .stage_commit(provider)
            .map_err(|e| fail("staging the commit")(&e))?;
        Self::finish(bundle)
    }

    /// An UpdatePath commit (same credential, fresh keys), covering every
    /// queued proposal unless `consume_queued` is false.
    pub fn update_consuming(
        &mut self,
        consume_queued: bool,
    ) -> Result<CommitMessages, TestUtilsError> {
        let params = self.leaf_parameters()?;
        let provider = &self.provider;
        let signer = &self.signer;
        let group = self
            .group
            .as_mut()
            .ok_or_else(|| TestUtilsError::Build("no group".into()))?;
        let bundle = group
            .commit_builder()
            .force_self_update(true)
            .consume_proposal_store(consume_queued)
            .leaf_node_parameters(params)
            .load_psks(provider.storage())
            .map_err(|e| fail("psks")(&e))?
            .create_group_info(true)
            .build(provider.rand(), provider.crypto(), signer, |_| true)
            .map_err(|e| fail("building the commit")(&e))?
            .stage_commit(provider)
            .map_err(|e| fail("staging the commit")(&e))?;
        Self::finish(bundle)
    }

    /// An UpdatePath commit covering every queued proposal.
    pub fn update(&mut self) -> Result<CommitMessages, TestUtilsError> {
        self.update_consuming(true)
    }

    /// An UpdatePath commit that switches to a new credential and signer (a
    /// renewed certificate, or another identity). After the merge, this member
    /// signs with the new signer.
    pub fn update_credential(
        &mut self,
        chain: Vec<Vec<u8>>,
        signer: TestSigner,
    ) -> Result<CommitMessages, TestUtilsError> {
        let credential = x509(&chain, &signer)?;
        let params = self.leaf_parameters()?;
        let provider = &self.provider;
        let old_signer = &self.signer;
        let group = self
            .group
            .as_mut()
            .ok_or_else(|| TestUtilsError::Build("no group".into()))?;
        let bundle = group
            .commit_builder()
            .force_self_update(true)
            .leaf_node_parameters(params)
            .load_psks(provider.storage())
            .map_err(|e| fail("psks")(&e))?
            .create_group_info(true)
            .build_with_new_signer(
                provider.rand(),
                provider.crypto(),
                old_signer,
                NewSignerBundle {
                    signer: &signer,
                    credential_with_key: credential.clone(),
                },
                |_| true,
            )
            .map_err(|e| fail("building the commit")(&e))?
            .stage_commit(provider)
            .map_err(|e| fail("staging the commit")(&e))?;
        let messages = Self::finish(bundle)?;
        self.signer = signer;
        self.credential = credential;
        Ok(messages)
    }

    /// A Remove proposal of this member's own leaf (PublicMessage).
    pub fn self_remove_proposal(&mut self) -> Result<Vec<u8>, TestUtilsError> {
        let provider = &self.provider;
        let signer = &self.signer;
        let group = self
            .group
            .as_mut()
            .ok_or_else(|| TestUtilsError::Build("no group".into()))?;
        let message = group
            .leave_group(provider, signer)
            .map_err(|e| fail("leave group")(&e))?;
        encode(&message)
    }

    /// A Remove proposal of `leaf` by this member (not a self-remove unless
    /// `leaf` is this member's own).
    pub fn remove_proposal(&mut self, leaf: u32) -> Result<Vec<u8>, TestUtilsError> {
        let provider = &self.provider;
        let signer = &self.signer;
        let group = self
            .group
            .as_mut()
            .ok_or_else(|| TestUtilsError::Build("no group".into()))?;
        let (message, _) = group
            .propose_remove_member(provider, signer, LeafNodeIndex::new(leaf))
            .map_err(|e| fail("remove proposal")(&e))?;
        encode(&message)
    }

    /// Merges this member's pending commit (the hub accepted it).
    pub fn merge_pending(&mut self) -> Result<(), TestUtilsError> {
        let provider = &self.provider;
        let group = self
            .group
            .as_mut()
            .ok_or_else(|| TestUtilsError::Build("no group".into()))?;
        group
            .merge_pending_commit(provider)
            .map_err(|e| fail("merging")(&e))
    }

    /// Drops this member's pending commit (the hub refused it).
    pub fn discard_pending(&mut self) -> Result<(), TestUtilsError> {
        let provider = &self.provider;
        let group = self
            .group
            .as_mut()
            .ok_or_else(|| TestUtilsError::Build("no group".into()))?;
        group
            .clear_pending_commit(provider.storage())
            .map_err(|e| fail("clearing")(&e))
    }

    /// Joins from a Welcome and the ratchet tree the hub hands out.
    pub fn join_by_welcome(&mut self, welcome: &[u8], tree: &[u8]) -> Result<(), TestUtilsError> {
        let MlsMessageBodyIn::Welcome(welcome) = decode(welcome)?.extract() else {
            return Err(TestUtilsError::Build("not a Welcome".into()));
        };
        let tree = RatchetTreeIn::tls_deserialize(&mut &tree[..]).map_err(|e| fail("tree")(&e))?;
        let group =
            StagedWelcome::new_from_welcome(&self.provider, &join_config(), welcome, Some(tree))
                .map_err(|e| fail("welcome")(&e))?
                .into_group(&self.provider)
                .map_err(|e| fail("welcome")(&e))?;
        self.group = Some(group);
        Ok(())
    }

    /// Joins by external commit from the hub's GroupInfo and tree; returns the
    /// commit and this joiner's GroupInfo for the new epoch. The commit is
    /// already merged on this side.
    pub fn join_external(
        &mut self,
        group_info: &[u8],
        tree: &[u8],
    ) -> Result<CommitMessages, TestUtilsError> {
        let MlsMessageBodyIn::GroupInfo(info) = decode(group_info)?.extract() else {
            return Err(TestUtilsError::Build("not a GroupInfo".into()));
        };
        let tree = RatchetTreeIn::tls_deserialize(&mut &tree[..]).map_err(|e| fail("tree")(&e))?;
        let params = self.leaf_parameters()?;
        let (group, bundle) = MlsGroup::external_commit_builder()
            .with_ratchet_tree(tree)
            .with_config(join_config())
            .build_group(&self.provider, info, self.credential.clone())
            .map_err(|e| fail("external commit")(&e))?
            .leaf_node_parameters(params)
            .load_psks(self.provider.storage())
            .map_err(|e| fail("psks")(&e))?
            .create_group_info(true)
            .build(
                self.provider.rand(),
                self.provider.crypto(),
                &self.signer,
                |_| true,
            )
            .map_err(|e| fail("external commit")(&e))?
            .finalize(&self.provider)
            .map_err(|e| fail("external commit")(&e))?;
        self.group = Some(group);
        Self::finish(bundle)
    }

    /// An application message (PrivateMessage).
    pub fn send(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, TestUtilsError> {
        let provider = &self.provider;
        let signer = &self.signer;
        let group = self
            .group
            .as_mut()
            .ok_or_else(|| TestUtilsError::Build("no group".into()))?;
        let message = group
            .create_message(provider, signer, plaintext)
            .map_err(|e| fail("message")(&e))?;
        encode(&message)
    }

    /// Processes a message from the group: merges a commit, stores a proposal,
    /// returns an application message's plaintext.
    pub fn process(&mut self, message: &[u8]) -> Result<Option<Vec<u8>>, TestUtilsError> {
        let message: ProtocolMessage = decode(message)?
            .try_into_protocol_message()
            .map_err(|e| fail("not a protocol message")(&e))?;
        let provider = &self.provider;
        let group = self
            .group
            .as_mut()
            .ok_or_else(|| TestUtilsError::Build("no group".into()))?;
        let processed = group
            .process_message(provider, message)
            .map_err(|e| fail("processing")(&e))?;
        match processed.into_content() {
            ProcessedMessageContent::ApplicationMessage(m) => Ok(Some(m.into_bytes())),
            ProcessedMessageContent::ProposalMessage(p) => {
                group
                    .store_pending_proposal(provider.storage(), *p)
                    .map_err(|e| fail("storing a proposal")(&e))?;
                Ok(None)
            }
            ProcessedMessageContent::StagedCommitMessage(staged) => {
                group
                    .merge_staged_commit(provider, *staged)
                    .map_err(|e| fail("merging")(&e))?;
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    /// Sends handshakes encrypted from now on (the hub must refuse them).
    pub fn encrypt_handshakes(&mut self) -> Result<(), TestUtilsError> {
        let provider = &self.provider;
        let group = self
            .group
            .as_mut()
            .ok_or_else(|| TestUtilsError::Build("no group".into()))?;
        let config = MlsGroupJoinConfig::builder()
            .wire_format_policy(openmls::prelude::PURE_CIPHERTEXT_WIRE_FORMAT_POLICY)
            .use_ratchet_tree_extension(false)
            .build();
        group
            .set_configuration(provider.storage(), &config)
            .map_err(|e| fail("configuration")(&e))
    }

    pub fn epoch(&self) -> Result<u64, TestUtilsError> {
        Ok(self.group()?.epoch().as_u64())
    }

    pub fn leaf_index(&self) -> Result<u32, TestUtilsError> {
        Ok(self.group()?.own_leaf_index().u32())
    }

    /// Whether the group still holds this member (false after it was removed).
    pub fn is_active(&self) -> bool {
        self.group.as_ref().is_some_and(MlsGroup::is_active)
    }

    /// The extension type list of this member's capabilities (for tests that
    /// check what a group requires).
    pub fn capability_extensions() -> Vec<ExtensionType> {
        capabilities().extensions().to_vec()
    }
}
