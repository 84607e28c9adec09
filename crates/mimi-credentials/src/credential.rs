//! What a verified chain says about an identity, and the policy checks a
//! verifier applies to it.

use std::time::SystemTime;

use mimi_identifiers::{DeviceId, Domain, Identifier, UserId};

use crate::error::PolicyDenied;
use crate::tnauthlist::TelephoneNumber;

/// Which credential profile of draft-mahy-mimi-identity a chain follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Example 1: a device certificate naming only the device, from the domain CA.
    Separate,
    /// Example 1: the user's own certificate (names only the user).
    UserCertificate,
    /// Example 2: one device certificate naming both user and device.
    Combined,
    /// Example 3: a device certificate issued by the user's own CA.
    Cascading,
}

/// The identity a chain proves. It exists only as the result of
/// [`crate::verify_chain`], so holding one means the checks passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCredential {
    pub(crate) user: UserId,
    pub(crate) device: Option<DeviceId>,
    pub(crate) phone_numbers: Vec<TelephoneNumber>,
    pub(crate) organization: Option<String>,
    pub(crate) issuing_domain: Domain,
    pub(crate) profile: Profile,
    pub(crate) leaf_spki_der: Vec<u8>,
    pub(crate) not_after: SystemTime,
}

impl VerifiedCredential {
    pub fn user(&self) -> &UserId {
        &self.user
    }

    pub fn device(&self) -> Option<&DeviceId> {
        self.device.as_ref()
    }

    /// Phone numbers from the leaf's TNAuthList (E.164 digits, no `+`).
    pub fn phone_numbers(&self) -> &[TelephoneNumber] {
        &self.phone_numbers
    }

    /// The organization (O) the leaf, or failing that the nearest CA, names.
    pub fn organization(&self) -> Option<&str> {
        self.organization.as_deref()
    }

    /// The domain of the CA directly under the trusted root.
    pub fn issuing_domain(&self) -> &Domain {
        &self.issuing_domain
    }

    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The leaf's SubjectPublicKeyInfo (DER): compare it with the MLS leaf's
    /// signature key.
    pub fn leaf_spki_der(&self) -> &[u8] {
        &self.leaf_spki_der
    }

    pub fn not_after(&self) -> SystemTime {
        self.not_after
    }

    /// Whether the credential is for `id`: that user, or that device.
    pub fn is(&self, id: &Identifier) -> bool {
        match id {
            Identifier::User(u) => *u == self.user,
            Identifier::Device(d) => self.device.as_ref() == Some(d),
            _ => false,
        }
    }

    /// "Is this `mimi://b.example/u/bob`?" with a reason when it is not.
    pub fn require(&self, expected: &Identifier) -> Result<(), PolicyDenied> {
        if self.is(expected) {
            return Ok(());
        }
        let got = match &self.device {
            Some(d) => d.to_string(),
            None => self.user.to_string(),
        };
        Err(PolicyDenied(format!(
            "the credential is for {got}, not {expected}"
        )))
    }
}

/// A rule every member of a group must satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// All identities belong to this domain.
    Domain(Domain),
    /// All credentials name this organization.
    Organization(String),
}

impl Policy {
    pub fn check(&self, credential: &VerifiedCredential) -> Result<(), PolicyDenied> {
        match self {
            Policy::Domain(d) => {
                if credential.user.domain() == Some(d) && credential.issuing_domain == *d {
                    Ok(())
                } else {
                    Err(PolicyDenied(format!(
                        "{} is not under {d}",
                        credential.user
                    )))
                }
            }
            Policy::Organization(o) => match &credential.organization {
                Some(org) if org == o => Ok(()),
                Some(org) => Err(PolicyDenied(format!(
                    "{} belongs to {org:?}, not {o:?}",
                    credential.user
                ))),
                None => Err(PolicyDenied(format!(
                    "{} names no organization",
                    credential.user
                ))),
            },
        }
    }

    /// Checks every credential; the first failure says whose.
    pub fn check_all<'a>(
        &self,
        credentials: impl IntoIterator<Item = &'a VerifiedCredential>,
    ) -> Result<(), PolicyDenied> {
        credentials.into_iter().try_for_each(|c| self.check(c))
    }
}
