//! Replay nonces (RFC 8555 §6.5): random, single use, with a bounded
//! lifetime and a bounded number outstanding.
//!
//! They live in memory: one authority process issues and redeems them. A
//! restart invalidates outstanding nonces, which clients handle by retrying
//! after `badNonce` (RFC 8555 §6.5).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// How long a nonce stays redeemable.
pub const NONCE_LIFETIME: Duration = Duration::from_secs(600);
/// Most nonces outstanding; the oldest are forgotten first.
pub const MAX_OUTSTANDING: usize = 100_000;

#[derive(Debug, Default)]
pub struct NonceService {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    live: HashMap<String, Instant>,
    order: VecDeque<String>,
}

impl NonceService {
    pub fn new() -> Self {
        NonceService::default()
    }

    /// A fresh nonce: 128 random bits, base64url.
    pub fn issue(&self) -> String {
        let mut bytes = [0u8; 16];
        aws_lc_rs::rand::fill(&mut bytes).expect("the system RNG works");
        let nonce = URL_SAFE_NO_PAD.encode(bytes);
        let mut state = self.state.lock().expect("nonce lock");
        while state.order.len() >= MAX_OUTSTANDING {
            if let Some(old) = state.order.pop_front() {
                state.live.remove(&old);
            }
        }
        state.live.insert(nonce.clone(), Instant::now());
        state.order.push_back(nonce.clone());
        nonce
    }

    /// Redeems `nonce`: true once for each nonce issued, within its lifetime.
    pub fn redeem(&self, nonce: &str) -> bool {
        let mut state = self.state.lock().expect("nonce lock");
        match state.live.remove(nonce) {
            // The queue entry stays until it is popped; `live` decides.
            Some(issued) => issued.elapsed() <= NONCE_LIFETIME,
            None => false,
        }
    }
}
