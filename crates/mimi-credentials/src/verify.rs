//! Path validation for MIMI credentials: the parts of RFC 5280 §6 that MIMI
//! chains use, plus MIMI's own rules (TNAuthList delegation, the profile-3
//! user-CA rule, the shape of subjectAltName URIs) and mandatory revocation.
//!
//! Why not rustls-webpki: it rejects every chain with a URI name constraint,
//! by design. Why not certval: it needs another generation of RustCrypto
//! crates than OpenMLS. See ARCHITECTURE.md.

use std::time::SystemTime;

use mimi_identifiers::{DeviceId, Domain, Identifier, UserId};

use crate::cert::{Certificate, host_matches, unix, uri_host};
use crate::credential::{Profile, VerifiedCredential};
use crate::crl::Crl;
use crate::error::{Rejection, VerifyError};
use crate::key::{self, SignatureError, key_scheme};

/// Longest chain accepted, trust anchor excluded (root → domain CA → user CA →
/// device is 3 below the root).
pub const MAX_CHAIN_LEN: usize = 6;

const ANY_EKU: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("2.5.29.37.0");
const CLIENT_AUTH: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");

/// The identity roots a verifier trusts. Never TLS roots.
#[derive(Debug, Clone, Default)]
pub struct TrustAnchors {
    roots: Vec<Certificate>,
}

impl TrustAnchors {
    pub fn new(roots: Vec<Certificate>) -> Self {
        TrustAnchors { roots }
    }

    pub fn roots(&self) -> &[Certificate] {
        &self.roots
    }
}

/// Verifies `chain` (leaf first; the root may be included or left out) at
/// `time`, against `roots`, with revocation data from `crls`.
///
/// Every CA in the chain, except a profile-3 user CA, must be covered by a
/// fresh CRL of its issuer among `crls`: missing or stale revocation data is
/// an error, never a pass.
pub fn verify_chain(
    chain: &[Certificate],
    roots: &TrustAnchors,
    crls: &[Crl],
    time: SystemTime,
) -> Result<VerifiedCredential, VerifyError> {
    Validation { chain, crls, time }.run(roots)
}

struct Validation<'a> {
    chain: &'a [Certificate],
    crls: &'a [Crl],
    time: SystemTime,
}

impl<'a> Validation<'a> {
    fn reject(&self, index: usize, cert: &Certificate, reason: Rejection) -> VerifyError {
        let _ = self;
        VerifyError {
            index,
            subject: cert.subject_text(),
            reason,
        }
    }

    fn run(&self, roots: &'a TrustAnchors) -> Result<VerifiedCredential, VerifyError> {
        let chain = self.chain;
        let Some(last) = chain.last() else {
            return Err(VerifyError {
                index: 0,
                subject: String::new(),
                reason: Rejection::EmptyChain,
            });
        };
        if chain.len() > MAX_CHAIN_LEN + 1 {
            return Err(self.reject(0, &chain[0], Rejection::ChainTooLong(chain.len())));
        }
        // The path below the anchor, leaf first.
        let (path, anchor) = match roots.roots.iter().find(|r| r.der() == last.der()) {
            Some(root) => (&chain[..chain.len() - 1], root),
            None => {
                let root = self.find_anchor(&roots.roots, last).ok_or_else(|| {
                    let issuer = last.issuer().to_string();
                    self.reject(chain.len() - 1, last, Rejection::UntrustedRoot { issuer })
                })?;
                (chain, root)
            }
        };
        // The TLS PKI is never an identity PKI: a TLS root (or any CA whose
        // extendedKeyUsage allows serverAuth) anywhere above the leaf ends it,
        // before any other check could give a less telling reason.
        if anchor.is_tls_ca() {
            return Err(self.reject(path.len(), anchor, Rejection::TlsCa));
        }
        if let Some(i) = (1..path.len()).find(|&i| path[i].is_tls_ca()) {
            return Err(self.reject(i, &path[i], Rejection::TlsCa));
        }
        if path.is_empty() {
            return Err(self.reject(
                0,
                anchor,
                Rejection::SubjectAltName("a trusted root is not a credential".into()),
            ));
        }
        if path.len() > MAX_CHAIN_LEN {
            return Err(self.reject(0, &path[0], Rejection::ChainTooLong(path.len())));
        }
        self.check_ca(path.len(), anchor, non_self_issued(&path[1..]))?;
        self.check_validity(path.len(), anchor)?;

        let mut issuer = anchor;
        for i in (0..path.len()).rev() {
            let cert = &path[i];
            self.check_issued_by(i, cert, issuer)?;
            self.check_validity(i, cert)?;
            if let Some(oid) = cert.ext.unknown_critical {
                return Err(self.reject(
                    i,
                    cert,
                    Rejection::UnknownCriticalExtension(oid.to_string()),
                ));
            }
            if key_scheme(&cert.inner.tbs_certificate.subject_public_key_info).is_none() {
                return Err(self.reject(i, cert, Rejection::UnsupportedKey));
            }
            let issuer_is_anchor = std::ptr::eq(issuer, anchor);
            self.check_revocation(i, cert, issuer, issuer_is_anchor)?;
            self.check_tn_delegation(i, cert, issuer, issuer_is_anchor)?;
            if !issuer_is_anchor && let Some(user) = user_ca_user(issuer) {
                self.check_user_ca_rule(i, cert, &user)?;
            }
            if i > 0 {
                self.check_ca(i, cert, non_self_issued(&path[1..i]))?;
            }
            issuer = cert;
        }
        // Name constraints of every CA (anchor included) over everything below it.
        for j in (1..=path.len()).rev() {
            let ca = if j == path.len() { anchor } else { &path[j] };
            self.check_name_constraints(j, ca, &path[..j])?;
        }
        self.leaf_identity(path, anchor)
    }

    /// The trusted root that issued `top`: same name and key identifier. The
    /// signature is checked once, with the rest of the path; only roots
    /// without key identifiers need it here to be told apart.
    fn find_anchor<'r>(
        &self,
        roots: &'r [Certificate],
        top: &Certificate,
    ) -> Option<&'r Certificate> {
        roots
            .iter()
            .filter(|r| r.subject() == top.issuer())
            .find(
                |r| match (&top.ext.authority_key_id, &r.ext.subject_key_id) {
                    (Some(aki), Some(ski)) => aki == ski,
                    _ => self.signed_by(top, r).is_ok(),
                },
            )
    }

    /// Signature, issuer name and key identifier of `cert` against `issuer`.
    fn check_issued_by(
        &self,
        i: usize,
        cert: &Certificate,
        issuer: &Certificate,
    ) -> Result<(), VerifyError> {
        if cert.issuer() != issuer.subject() {
            return Err(self.reject(i, cert, Rejection::IssuerMismatch));
        }
        if let (Some(aki), Some(ski)) = (&cert.ext.authority_key_id, &issuer.ext.subject_key_id)
            && aki != ski
        {
            return Err(self.reject(i, cert, Rejection::KeyIdMismatch));
        }
        self.signed_by(cert, issuer).map_err(|e| {
            let reason = match e {
                SignatureError::UnsupportedAlgorithm => Rejection::UnsupportedAlgorithm,
                SignatureError::KeyMismatch | SignatureError::Invalid => Rejection::BadSignature,
            };
            self.reject(i, cert, reason)
        })
    }

    fn signed_by(&self, cert: &Certificate, issuer: &Certificate) -> Result<(), SignatureError> {
        let outer = &cert.inner.signature_algorithm;
        if outer != &cert.inner.tbs_certificate.signature {
            return Err(SignatureError::Invalid);
        }
        let sig = cert
            .inner
            .signature
            .as_bytes()
            .ok_or(SignatureError::Invalid)?;
        key::verify(
            &issuer.inner.tbs_certificate.subject_public_key_info,
            &outer.oid,
            cert.tbs_der(),
            sig,
        )
    }

    fn check_validity(&self, i: usize, cert: &Certificate) -> Result<(), VerifyError> {
        let v = &cert.inner.tbs_certificate.validity;
        let now = unix(self.time);
        if now < v.not_before.to_unix_duration() {
            let not_before = v.not_before.to_string();
            return Err(self.reject(i, cert, Rejection::NotYetValid { not_before }));
        }
        if now > v.not_after.to_unix_duration() {
            let not_after = v.not_after.to_string();
            return Err(self.reject(i, cert, Rejection::Expired { not_after }));
        }
        Ok(())
    }

    /// `ca` (at chain index `i`) issued certificates: it must be a CA allowed
    /// to sign them, with `intermediates` CAs under it that count towards its
    /// path length (RFC 5280 §6.1.4 (l): self-issued ones do not).
    fn check_ca(
        &self,
        i: usize,
        ca: &Certificate,
        intermediates: usize,
    ) -> Result<(), VerifyError> {
        let Some(path_len) = ca.ca() else {
            return Err(self.reject(i, ca, Rejection::NotACa));
        };
        if let Some(ku) = &ca.ext.key_usage
            && !ku.key_cert_sign()
        {
            return Err(self.reject(i, ca, Rejection::KeyUsage("signing certificates")));
        }
        if let Some(max) = path_len
            && intermediates > usize::from(max)
        {
            return Err(self.reject(i, ca, Rejection::PathLenExceeded(max)));
        }
        Ok(())
    }

    fn check_name_constraints(
        &self,
        j: usize,
        ca: &Certificate,
        below: &[Certificate],
    ) -> Result<(), VerifyError> {
        let Some(nc) = &ca.ext.name_constraints else {
            return Ok(());
        };
        if nc.other_types {
            return Err(self.reject(j, ca, Rejection::UnsupportedNameConstraint));
        }
        let constrained_by = ca.subject_text();
        for (k, cert) in below.iter().enumerate() {
            for uri in cert.uris() {
                let host = uri_host(uri);
                let permitted = nc.permitted.is_empty()
                    || host
                        .as_deref()
                        .is_some_and(|h| nc.permitted.iter().any(|c| host_matches(h, c)));
                let excluded = host
                    .as_deref()
                    .is_some_and(|h| nc.excluded.iter().any(|c| host_matches(h, c)));
                if !permitted || excluded {
                    let reason = Rejection::NameConstraint {
                        uri: uri.clone(),
                        constrained_by: constrained_by.clone(),
                    };
                    return Err(self.reject(k, cert, reason));
                }
            }
        }
        Ok(())
    }

    fn check_revocation(
        &self,
        i: usize,
        cert: &Certificate,
        issuer: &Certificate,
        issuer_is_anchor: bool,
    ) -> Result<(), VerifyError> {
        let issuer_name = issuer.subject_text();
        let mut found = false;
        for crl in self.crls {
            if &crl.inner.tbs_cert_list.issuer != issuer.subject() {
                continue;
            }
            self.check_crl(crl, issuer).map_err(|problem| {
                let reason = Rejection::BadCrl {
                    issuer: issuer_name.clone(),
                    problem,
                };
                self.reject(i, cert, reason)
            })?;
            found = true;
            if crl.lists(cert.serial()) {
                let reason = Rejection::Revoked {
                    issuer: issuer_name.clone(),
                };
                return Err(self.reject(i, cert, reason));
            }
        }
        // Profile-3 user CAs publish no CRL: their devices' certificates are
        // short-lived, and revoking the user CA cuts them all off.
        let exempt = !issuer_is_anchor && user_ca_user(issuer).is_some();
        if !found && !exempt {
            let reason = Rejection::CrlMissing {
                issuer: issuer_name,
            };
            return Err(self.reject(i, cert, reason));
        }
        Ok(())
    }

    /// Signature, issuer authority and freshness of a CRL.
    fn check_crl(&self, crl: &Crl, issuer: &Certificate) -> Result<(), String> {
        crl.check_signed_by(issuer).map_err(|e| e.to_string())?;
        crl.check_fresh(self.time).map_err(|e| e.to_string())
    }

    fn check_tn_delegation(
        &self,
        i: usize,
        cert: &Certificate,
        issuer: &Certificate,
        issuer_is_anchor: bool,
    ) -> Result<(), VerifyError> {
        let (Some(tn), false) = (cert.tn_auth_list(), issuer_is_anchor) else {
            return Ok(());
        };
        match issuer.tn_auth_list() {
            None => Err(self.reject(i, cert, Rejection::TnAuthListWithoutIssuerList)),
            Some(outer) if !tn.is_within(outer) => {
                Err(self.reject(i, cert, Rejection::TnAuthListNotDelegated))
            }
            Some(_) => Ok(()),
        }
    }

    /// Profile 3: a user CA issues only end-entity certificates of its own
    /// user's devices.
    fn check_user_ca_rule(
        &self,
        i: usize,
        cert: &Certificate,
        user: &UserId,
    ) -> Result<(), VerifyError> {
        let fail = |problem: &str| {
            let reason = Rejection::UserCaRule {
                user: user.to_string(),
                problem: problem.to_owned(),
            };
            Err(self.reject(i, cert, reason))
        };
        if cert.ca().is_some() {
            return fail("it is a CA");
        }
        let ids = match san_identifiers(cert) {
            Ok(ids) => ids,
            Err(problem) => return fail(&problem),
        };
        let mut devices = 0;
        for id in &ids {
            match id {
                Identifier::Device(d) if d.user().as_ref() == Some(user) => devices += 1,
                Identifier::User(u) if u == user => {}
                _ => return fail("it names someone else"),
            }
        }
        if devices != 1 {
            return fail("it must name exactly one device");
        }
        Ok(())
    }

    fn leaf_identity(
        &self,
        path: &[Certificate],
        anchor: &Certificate,
    ) -> Result<VerifiedCredential, VerifyError> {
        let leaf = &path[0];
        let fail = |reason| Err(self.reject(0, leaf, reason));
        if leaf.ca().is_some() {
            return fail(Rejection::SubjectAltName(
                "a CA certificate is not a credential; present a user or device certificate".into(),
            ));
        }
        if let Some(ku) = &leaf.ext.key_usage
            && !ku.digital_signature()
        {
            return fail(Rejection::KeyUsage("digital signatures"));
        }
        if let Some(eku) = &leaf.ext.ext_key_usage
            && !eku.iter().any(|o| *o == ANY_EKU || *o == CLIENT_AUTH)
        {
            return fail(Rejection::KeyUsage(
                "client authentication (extKeyUsage lacks clientAuth)",
            ));
        }
        let ids = match san_identifiers(leaf) {
            Ok(ids) => ids,
            Err(problem) => return fail(Rejection::SubjectAltName(problem)),
        };
        let mut user: Option<UserId> = None;
        let mut device: Option<DeviceId> = None;
        for id in ids {
            match id {
                Identifier::User(u) if user.is_none() => user = Some(u),
                Identifier::Device(d) if device.is_none() => device = Some(d),
                Identifier::User(_) | Identifier::Device(_) => {
                    return fail(Rejection::SubjectAltName(
                        "more than one user or device URI".into(),
                    ));
                }
                other => {
                    return fail(Rejection::SubjectAltName(format!(
                        "a {} URI is not a credential identity",
                        other.kind()
                    )));
                }
            }
        }
        let device_user = device.as_ref().map(|d| d.user());
        let user = match (user, device_user) {
            (None, None) => {
                return fail(Rejection::SubjectAltName("no user or device URI".into()));
            }
            (_, Some(None)) => {
                return fail(Rejection::SubjectAltName(
                    "the device URI does not name its user (mimi://<domain>/d/<user>/<device>)"
                        .into(),
                ));
            }
            (Some(u), Some(Some(du))) if u != du => {
                return fail(Rejection::SubjectAltName(
                    "the user URI and the device URI name different users".into(),
                ));
            }
            (Some(u), _) => u,
            (None, Some(Some(du))) => du,
        };
        let issuer = path.get(1).unwrap_or(anchor);
        let issued_by_user_ca = path.len() > 1 && user_ca_user(issuer).is_some();
        let profile = match (&device, leaf.uris().len()) {
            (None, _) => Profile::UserCertificate,
            (Some(_), 2) => Profile::Combined,
            (Some(_), _) if issued_by_user_ca => Profile::Cascading,
            (Some(_), _) => Profile::Separate,
        };
        // The CA directly under the root names the provider's domain.
        let top = &path[path.len() - 1];
        let issuing_domain = top
            .uri_constraints()
            .and_then(|nc| nc.permitted.first())
            .and_then(|d| Domain::parse(d).ok())
            .ok_or_else(|| {
                self.reject(
                    path.len() - 1,
                    top,
                    Rejection::SubjectAltName(
                        "the CA under the root carries no URI name constraint for its domain"
                            .into(),
                    ),
                )
            })?;
        let organization = path.iter().find_map(Certificate::organization);
        let phone_numbers = leaf
            .tn_auth_list()
            .map(|tn| tn.numbers().cloned().collect())
            .unwrap_or_default();
        Ok(VerifiedCredential {
            user,
            device,
            phone_numbers,
            organization,
            issuing_domain,
            profile,
            leaf_spki_der: leaf.spki_der(),
            not_after: leaf.not_after(),
        })
    }
}

/// How many of `intermediates` count towards a path length constraint.
fn non_self_issued(intermediates: &[Certificate]) -> usize {
    intermediates.iter().filter(|c| !c.is_self_issued()).count()
}

/// The user a profile-3 user CA speaks for: a CA with path length 0 whose
/// subjectAltName holds a user URI.
fn user_ca_user(cert: &Certificate) -> Option<UserId> {
    if cert.ca() != Some(Some(0)) {
        return None;
    }
    cert.uris()
        .iter()
        .find_map(|u| match mimi_identifiers::parse(u).map(|p| p.identifier) {
            Ok(Identifier::User(user)) if u.starts_with("mimi://") => Some(user),
            _ => None,
        })
}

/// The subjectAltName URIs of a credential as identifiers: only `mimi://`
/// URIs of qualified users and devices, and no other name types.
fn san_identifiers(cert: &Certificate) -> Result<Vec<Identifier>, String> {
    if cert.ext.san_other > 0 {
        return Err("it has subjectAltName entries other than URIs".into());
    }
    let mut out = Vec::with_capacity(cert.uris().len());
    for uri in cert.uris() {
        if !uri.starts_with("mimi://") {
            return Err(format!("{uri} is not a mimi:// URI"));
        }
        let id = mimi_identifiers::parse(uri)
            .map_err(|e| format!("{uri} is not a MIMI identifier: {e}"))?
            .identifier;
        if id.domain().is_none() {
            return Err(format!("{uri} has no domain"));
        }
        out.push(id);
    }
    Ok(out)
}
