//! Test clients: an OpenMLS client whose provider is [`MlsProvider`] over a
//! SQLite file in a temporary directory, with an Ed25519 signer the test
//! keeps (signature keys are not part of the MLS store in this slice).

use std::path::{Path, PathBuf};

use mimi_client::store::open_database;
use mimi_client::{MlsProvider, MlsStore};
use openmls::prelude::{
    BasicCredential, Ciphersuite, CredentialWithKey, GroupId, KeyPackage, MlsGroup,
    MlsGroupJoinConfig, MlsMessageBodyIn, MlsMessageIn, MlsMessageOut, ProcessedMessageContent,
    ProtocolMessage, StagedWelcome,
};
use openmls_rust_crypto::RustCrypto;
use openmls_traits::OpenMlsProvider;
use openmls_traits::crypto::OpenMlsCrypto;
use openmls_traits::signatures::{Signer, SignerError};
use openmls_traits::types::SignatureScheme;
use sqlx::SqlitePool;
use tls_codec::{Deserialize, Serialize};

pub const SUITE: Ciphersuite = Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;

#[derive(Debug, Clone)]
pub struct TestSigner {
    private: Vec<u8>,
    public: Vec<u8>,
}

impl TestSigner {
    pub fn generate() -> TestSigner {
        let (private, public) = RustCrypto::default()
            .signature_key_gen(SignatureScheme::ED25519)
            .unwrap();
        TestSigner { private, public }
    }
}

impl Signer for TestSigner {
    fn sign(&self, payload: &[u8]) -> Result<Vec<u8>, SignerError> {
        RustCrypto::default()
            .sign(SignatureScheme::ED25519, payload, &self.private)
            .map_err(SignerError::CryptoError)
    }

    fn signature_scheme(&self) -> SignatureScheme {
        SignatureScheme::ED25519
    }
}

/// One client: its state file, its provider and (once in one) its group.
#[derive(Debug)]
pub struct Client {
    pub path: PathBuf,
    pub pool: SqlitePool,
    pub provider: MlsProvider,
    pub signer: TestSigner,
    pub credential: CredentialWithKey,
    pub group: Option<MlsGroup>,
}

impl Client {
    /// Opens (or creates) the client whose state file is `path`.
    pub async fn open(path: &Path, name: &str, signer: TestSigner) -> Client {
        let pool = open_database(path).await.unwrap();
        let store = MlsStore::load(&pool).await.unwrap();
        Client {
            path: path.to_owned(),
            pool,
            provider: MlsProvider::new(store),
            credential: CredentialWithKey {
                credential: BasicCredential::new(name.as_bytes().to_vec()).into(),
                signature_key: signer.public.clone().into(),
            },
            signer,
            group: None,
        }
    }

    /// Closes the file and forgets everything in memory but the signer.
    pub async fn close(self) -> TestSigner {
        self.pool.close().await;
        self.signer
    }

    /// Persists what the last operation changed; returns the keys written.
    pub async fn flush(&self) -> usize {
        let tx = self.pool.begin().await.unwrap();
        self.provider.store().flush(tx).await.unwrap()
    }

    pub fn group(&mut self) -> &mut MlsGroup {
        self.group.as_mut().unwrap()
    }

    pub fn key_package(&self) -> KeyPackage {
        KeyPackage::builder()
            .build(SUITE, &self.provider, &self.signer, self.credential.clone())
            .unwrap()
            .key_package()
            .clone()
    }

    pub fn create_group(&mut self) -> GroupId {
        let group = MlsGroup::builder()
            .ciphersuite(SUITE)
            .use_ratchet_tree_extension(true)
            .build(&self.provider, &self.signer, self.credential.clone())
            .unwrap();
        let id = group.group_id().clone();
        self.group = Some(group);
        id
    }

    /// Adds the owner of `key_package` and merges the commit; returns the
    /// Welcome.
    pub fn add(&mut self, key_package: KeyPackage) -> Vec<u8> {
        let group = self.group.as_mut().unwrap();
        let (_commit, welcome, _) = group
            .add_members(&self.provider, &self.signer, &[key_package])
            .unwrap();
        group.merge_pending_commit(&self.provider).unwrap();
        encode(&welcome)
    }

    pub fn join(&mut self, welcome: &[u8]) {
        let MlsMessageBodyIn::Welcome(welcome) = decode(welcome).extract() else {
            panic!("not a Welcome");
        };
        let group = StagedWelcome::new_from_welcome(
            &self.provider,
            &MlsGroupJoinConfig::default(),
            welcome,
            None,
        )
        .unwrap()
        .into_group(&self.provider)
        .unwrap();
        self.group = Some(group);
    }

    /// Reloads the group `id` from the store.
    pub fn load_group(&mut self, id: &GroupId) {
        self.group = Some(
            MlsGroup::load(self.provider.storage(), id)
                .unwrap()
                .unwrap(),
        );
    }

    pub fn send(&mut self, text: &str) -> Vec<u8> {
        let group = self.group.as_mut().unwrap();
        let message = group
            .create_message(&self.provider, &self.signer, text.as_bytes())
            .unwrap();
        encode(&message)
    }

    /// Decrypts an application message and returns its text.
    pub fn receive(&mut self, message: &[u8]) -> String {
        let protocol: ProtocolMessage = decode(message).try_into_protocol_message().unwrap();
        let group = self.group.as_mut().unwrap();
        let processed = group.process_message(&self.provider, protocol).unwrap();
        let ProcessedMessageContent::ApplicationMessage(message) = processed.into_content() else {
            panic!("not an application message");
        };
        String::from_utf8(message.into_bytes()).unwrap()
    }
}

pub fn encode(message: &MlsMessageOut) -> Vec<u8> {
    message.tls_serialize_detached().unwrap()
}

pub fn decode(bytes: &[u8]) -> MlsMessageIn {
    MlsMessageIn::tls_deserialize(&mut &bytes[..]).unwrap()
}

/// Alice (who created the group) and Bob (added by Alice), both flushed.
pub async fn alice_and_bob(dir: &Path) -> (Client, Client, GroupId) {
    let mut alice = Client::open(&dir.join("alice.db"), "alice", TestSigner::generate()).await;
    let mut bob = Client::open(&dir.join("bob.db"), "bob", TestSigner::generate()).await;
    let key_package = bob.key_package();
    bob.flush().await;
    let id = alice.create_group();
    let welcome = alice.add(key_package);
    alice.flush().await;
    bob.join(&welcome);
    bob.flush().await;
    (alice, bob, id)
}
