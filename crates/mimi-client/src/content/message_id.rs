//! The message ID of draft-ietf-mimi-content-08 §3.3.

use super::{ContentError, SALT_LEN};

/// The hash algorithm the draft uses by default: SHA-256, IANA Named
/// Information hash algorithm 1 (§3.3).
const SHA256_ID: u8 = 0x01;

/// A 32-octet MIMI message ID (§3.3): one octet naming the hash algorithm,
/// then the first 31 octets of the hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(pub [u8; 32]);

impl MessageId {
    /// The ID of `message` (its encoded bytes, salt included) sent by
    /// `sender_uri` into `room_uri`:
    /// `0x01 || SHA-256(u16 len || sender || u16 len || room || message || salt)[0..31]`.
    /// The salt is hashed a second time after the message against length
    /// extension (§3.3).
    pub fn compute(
        sender_uri: &str,
        room_uri: &str,
        message: &[u8],
        salt: &[u8; SALT_LEN],
    ) -> Result<Self, ContentError> {
        let sender_len = uri_len("senderUri", sender_uri)?;
        let room_len = uri_len("roomUri", room_uri)?;
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        ctx.update(&sender_len);
        ctx.update(sender_uri.as_bytes());
        ctx.update(&room_len);
        ctx.update(room_uri.as_bytes());
        ctx.update(message);
        ctx.update(salt);
        let digest = ctx.finish();
        let mut id = [0u8; 32];
        id[0] = SHA256_ID;
        id[1..].copy_from_slice(&digest.as_ref()[..31]);
        Ok(Self(id))
    }

    /// The hash algorithm octet (1 = SHA-256).
    #[must_use]
    pub fn hash_alg(&self) -> u8 {
        self.0[0]
    }
}

fn uri_len(field: &'static str, uri: &str) -> Result<[u8; 2], ContentError> {
    u16::try_from(uri.len())
        .map(u16::to_be_bytes)
        .map_err(|_| ContentError::UriTooLong {
            field,
            len: uri.len(),
        })
}
