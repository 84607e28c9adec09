//! Broken inputs built from real ones, re-signed where a test needs the
//! signatures to hold so that a later check is what fails (RFC 9420 §6, §7.2,
//! §12.4.3 layouts, walked by hand: OpenMLS does not let anyone edit its
//! messages).

use openmls_traits::signatures::Signer;
use tls_codec::{Serialize, VLByteSlice};

use super::{TestSigner, TestUtilsError};

fn bad(what: &str) -> TestUtilsError {
    TestUtilsError::Build(format!("forging: {what}"))
}

/// A position in a TLS encoding.
struct Walk<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Walk<'a> {
    fn new(bytes: &'a [u8], at: usize) -> Self {
        Walk { bytes, at }
    }

    fn take(&mut self, n: usize) -> Result<std::ops::Range<usize>, TestUtilsError> {
        let range = self.at..self.at + n;
        if range.end > self.bytes.len() {
            return Err(bad("truncated"));
        }
        self.at = range.end;
        Ok(range)
    }

    fn u8(&mut self) -> Result<u8, TestUtilsError> {
        let r = self.take(1)?;
        Ok(self.bytes[r.start])
    }

    /// An RFC 9420 variable-length vector: the range of its content.
    fn vector(&mut self) -> Result<std::ops::Range<usize>, TestUtilsError> {
        let first = self.u8()?;
        let len = match first >> 6 {
            0 => usize::from(first & 0x3f),
            1 => (usize::from(first & 0x3f) << 8) | usize::from(self.u8()?),
            2 => {
                let r = self.take(3)?;
                let b = &self.bytes[r];
                (usize::from(first & 0x3f) << 24)
                    | (usize::from(b[0]) << 16)
                    | (usize::from(b[1]) << 8)
                    | usize::from(b[2])
            }
            _ => return Err(bad("bad vector length")),
        };
        self.take(len)
    }
}

fn sign_with_label(
    signer: &TestSigner,
    label: &str,
    content: &[u8],
) -> Result<Vec<u8>, TestUtilsError> {
    let mut signed = Vec::new();
    VLByteSlice(format!("MLS 1.0 {label}").as_bytes())
        .tls_serialize(&mut signed)
        .and_then(|_| VLByteSlice(content).tls_serialize(&mut signed))
        .map_err(|_| bad("sign content"))?;
    signer.sign(&signed).map_err(|_| bad("signing"))
}

/// Where the parts of a PublicMessage commit from a member lie.
struct CommitLayout {
    /// FramedContent (without the MLSMessage header).
    content: std::ops::Range<usize>,
    group_id: std::ops::Range<usize>,
    leaf_index: u32,
    /// The UpdatePath's LeafNode, without its signature, and its signature.
    leaf_tbs: Option<std::ops::Range<usize>>,
    leaf_signature: Option<std::ops::Range<usize>>,
    parent_hash: Option<std::ops::Range<usize>>,
    signature: std::ops::Range<usize>,
}

fn commit_layout(bytes: &[u8]) -> Result<CommitLayout, TestUtilsError> {
    if bytes.get(0..4) != Some(&[0, 1, 0, 1][..]) {
        return Err(bad("not an MLSMessage PublicMessage"));
    }
    let mut w = Walk::new(bytes, 4);
    let start = w.at;
    let group_id = w.vector()?;
    w.take(8)?;
    let sender_type = w.u8()?;
    if sender_type != 1 {
        return Err(bad("sender is not a member"));
    }
    let r = w.take(4)?;
    let leaf_index = u32::from_be_bytes([
        bytes[r.start],
        bytes[r.start + 1],
        bytes[r.start + 2],
        bytes[r.start + 3],
    ]);
    w.vector()?; // authenticated_data
    if w.u8()? != 3 {
        return Err(bad("not a commit"));
    }
    w.vector()?; // proposals
    let (mut leaf_tbs, mut leaf_signature, mut parent_hash) = (None, None, None);
    if w.u8()? == 1 {
        let leaf_start = w.at;
        w.vector()?; // encryption_key
        w.vector()?; // signature_key
        w.take(2)?; // credential_type
        w.vector()?; // certificates / identity
        for _ in 0..5 {
            w.vector()?; // capabilities
        }
        if w.u8()? != 3 {
            return Err(bad("path leaf source is not commit"));
        }
        parent_hash = Some(w.vector()?);
        w.vector()?; // extensions
        leaf_tbs = Some(leaf_start..w.at);
        leaf_signature = Some(w.vector()?);
        w.vector()?; // UpdatePath nodes
    }
    let content = start..w.at;
    let signature = w.vector()?;
    Ok(CommitLayout {
        content,
        group_id,
        leaf_index,
        leaf_tbs,
        leaf_signature,
        parent_hash,
        signature,
    })
}

/// The commit with one bit of its framed-content signature flipped.
pub fn flip_commit_signature(commit: &[u8]) -> Result<Vec<u8>, TestUtilsError> {
    let layout = commit_layout(commit)?;
    let mut out = commit.to_vec();
    out[layout.signature.start] ^= 0x01;
    Ok(out)
}

/// A member's commit whose UpdatePath leaf carries a wrong parent hash, with
/// the leaf node and the framed content signed again by `signer` over
/// `group_context` (the committer's current one), so that only the parent
/// hash is wrong. Needs Ed25519 (fixed-length signatures).
pub fn wrong_parent_hash(
    commit: &[u8],
    signer: &TestSigner,
    group_context: &[u8],
) -> Result<Vec<u8>, TestUtilsError> {
    let layout = commit_layout(commit)?;
    let (Some(tbs), Some(leaf_sig), Some(parent_hash)) = (
        layout.leaf_tbs.clone(),
        layout.leaf_signature.clone(),
        layout.parent_hash.clone(),
    ) else {
        return Err(bad("the commit has no UpdatePath"));
    };
    if parent_hash.is_empty() {
        return Err(bad("empty parent hash"));
    }
    let mut out = commit.to_vec();
    out[parent_hash.start] ^= 0x01;
    let mut leaf_tbs = out[tbs].to_vec();
    VLByteSlice(&out[layout.group_id.clone()])
        .tls_serialize(&mut leaf_tbs)
        .map_err(|_| bad("tbs"))?;
    leaf_tbs.extend_from_slice(&layout.leaf_index.to_be_bytes());
    let sig = sign_with_label(signer, "LeafNodeTBS", &leaf_tbs)?;
    if sig.len() != leaf_sig.len() {
        return Err(bad("signature length changed (use Ed25519)"));
    }
    out[leaf_sig].copy_from_slice(&sig);
    resign_content(&mut out, &layout, signer, group_context)?;
    Ok(out)
}

fn resign_content(
    out: &mut [u8],
    layout: &CommitLayout,
    signer: &TestSigner,
    group_context: &[u8],
) -> Result<(), TestUtilsError> {
    // FramedContentTBS: version, wire_format, FramedContent, GroupContext.
    let mut tbs = vec![0, 1, 0, 1];
    tbs.extend_from_slice(&out[layout.content.clone()]);
    tbs.extend_from_slice(group_context);
    let sig = sign_with_label(signer, "FramedContentTBS", &tbs)?;
    if sig.len() != layout.signature.len() {
        return Err(bad("signature length changed (use Ed25519)"));
    }
    out[layout.signature.clone()].copy_from_slice(&sig);
    Ok(())
}

/// Where a GroupInfo's TBS and signature lie in its `MLSMessage`.
fn group_info_layout(
    bytes: &[u8],
) -> Result<(std::ops::Range<usize>, std::ops::Range<usize>), TestUtilsError> {
    if bytes.get(0..4) != Some(&[0, 1, 0, 4][..]) {
        return Err(bad("not an MLSMessage GroupInfo"));
    }
    let mut w = Walk::new(bytes, 4);
    w.take(4)?; // version, cipher suite
    w.vector()?; // group_id
    w.take(8)?; // epoch
    w.vector()?; // tree_hash
    w.vector()?; // confirmed_transcript_hash
    w.vector()?; // context extensions
    w.vector()?; // extensions
    w.vector()?; // confirmation_tag
    w.take(4)?; // signer
    let tbs = 4..w.at;
    let signature_header = w.at;
    w.vector()?;
    Ok((tbs, signature_header..w.at))
}

/// The GroupInfo with its `signer` field set to `signer_leaf` and signed again
/// by `signer`.
pub fn resign_group_info(
    group_info: &[u8],
    signer_leaf: u32,
    signer: &TestSigner,
) -> Result<Vec<u8>, TestUtilsError> {
    let (tbs, _) = group_info_layout(group_info)?;
    let mut payload = group_info[tbs.clone()].to_vec();
    let n = payload.len();
    payload[n - 4..].copy_from_slice(&signer_leaf.to_be_bytes());
    let sig = sign_with_label(signer, "GroupInfoTBS", &payload)?;
    let mut out = group_info[..tbs.start].to_vec();
    out.extend_from_slice(&payload);
    VLByteSlice(&sig)
        .tls_serialize(&mut out)
        .map_err(|_| bad("signature"))?;
    Ok(out)
}

/// The GroupInfo with one bit of its confirmation tag flipped, signed again by
/// `signer` (so only the contents are wrong).
pub fn group_info_with_wrong_tag(
    group_info: &[u8],
    signer: &TestSigner,
) -> Result<Vec<u8>, TestUtilsError> {
    let (tbs, _) = group_info_layout(group_info)?;
    let mut w = Walk::new(group_info, 8);
    w.vector()?;
    w.take(8)?;
    w.vector()?;
    w.vector()?;
    w.vector()?;
    w.vector()?;
    let tag = w.vector()?;
    let mut edited = group_info.to_vec();
    edited[tag.start] ^= 0x01;
    let signer_leaf = u32::from_be_bytes([
        edited[tbs.end - 4],
        edited[tbs.end - 3],
        edited[tbs.end - 2],
        edited[tbs.end - 1],
    ]);
    resign_group_info(&edited, signer_leaf, signer)
}

/// The commit with its sender's leaf index replaced (signatures untouched).
pub fn set_commit_sender(commit: &[u8], leaf: u32) -> Result<Vec<u8>, TestUtilsError> {
    commit_layout(commit)?;
    let mut w = Walk::new(commit, 4);
    w.vector()?;
    w.take(9)?;
    let at = w.take(4)?;
    let mut out = commit.to_vec();
    out[at].copy_from_slice(&leaf.to_be_bytes());
    Ok(out)
}
