//! The `OpenMlsProvider` a client runs OpenMLS with.

use openmls_rust_crypto::RustCrypto;
use openmls_traits::OpenMlsProvider;

use crate::store::MlsStore;

/// RustCrypto for cryptography and randomness (as everywhere in this
/// workspace), [`MlsStore`] for state.
#[derive(Debug, Default)]
pub struct MlsProvider {
    crypto: RustCrypto,
    store: MlsStore,
}

impl MlsProvider {
    /// A provider whose state is `store` (usually [`MlsStore::load`]ed).
    pub fn new(store: MlsStore) -> MlsProvider {
        MlsProvider {
            crypto: RustCrypto::default(),
            store,
        }
    }

    /// The store, to flush or discard what an operation wrote.
    pub fn store(&self) -> &MlsStore {
        &self.store
    }
}

impl OpenMlsProvider for MlsProvider {
    type CryptoProvider = RustCrypto;
    type RandProvider = RustCrypto;
    type StorageProvider = MlsStore;

    fn storage(&self) -> &MlsStore {
        &self.store
    }

    fn crypto(&self) -> &RustCrypto {
        &self.crypto
    }

    fn rand(&self) -> &RustCrypto {
        &self.crypto
    }
}
