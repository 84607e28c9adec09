//! `mimi id parse` and `mimi id convert`.

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use mimi_identifiers::{FormError, Identifier, Parsed, Protocol, parse_with};
use serde::Serialize;

#[derive(Debug, Subcommand)]
pub enum IdCommand {
    /// Show what an identifier is: its kind, canonical form, every URI form and
    /// its place in the hierarchy.
    ///
    /// TEXT may be in any form: the text forms of draft-mahy-mimi-identity
    /// (example.com, @alice, @alice@example.com, BFuVxW5BfqaMEfJDc8R7Qw/072b@example.com,
    /// #projectX@example.com, ##engineering/projectX, $TII9t5viBrXiXc@example.com),
    /// a phone number (+1 201 555 0123, tel:+12015550123), an email address
    /// (mailto:alice@example.com), or a URI: im:wxyz=%40alice@example.com,
    /// wxyz:%40alice@example.com, im:xmpp=juliet/balcony@example.com,
    /// xmpp:juliet@example.com, sip:juliet@example.com, mimi://example.com/u/alice.
    ///
    /// Identifiers without a domain use local.invalid in URI forms.
    #[command(verbatim_doc_comment)]
    Parse {
        #[command(flatten)]
        proto: ProtoArg,
        /// Print one JSON object: kind, canonical, domain, im_uri, scheme_uri,
        /// mimi_uri and parent (null where there is none).
        #[arg(long)]
        json: bool,
        /// The identifier to read.
        text: String,
    },
    /// Convert an identifier to another form and print it.
    ///
    /// Example: mimi id convert --to mimi BFuVxW5BfqaMEfJDc8R7Qw/072b@example.com
    Convert {
        #[command(flatten)]
        proto: ProtoArg,
        /// The form to write.
        #[arg(long, value_enum)]
        to: TargetForm,
        /// The identifier to convert (any form, as for `mimi id parse`).
        text: String,
    },
}

#[derive(Debug, Args)]
pub struct ProtoArg {
    /// The messaging protocol for im:<proto>= and <proto>: forms. Without it,
    /// the protocol the input names (im:xmpp=..., sip:...) or else `wxyz`, the
    /// draft's example protocol, which writes every kind. `xmpp` and `sip`
    /// follow those protocols' address syntax.
    #[arg(long = "proto", value_name = "NAME", value_parser = parse_protocol)]
    name: Option<Protocol>,
}

fn parse_protocol(s: &str) -> Result<Protocol, String> {
    Protocol::new(s).map_err(|e| e.to_string())
}

impl ProtoArg {
    /// Reads `text`, accepting `<proto>:` URIs of the given protocol.
    fn parse(&self, text: &str) -> anyhow::Result<(Parsed, Protocol)> {
        let reading = self.name.clone().unwrap_or_default();
        let parsed = parse_with(text, &reading).with_context(|| format!("cannot read {text:?}"))?;
        let writing = self
            .name
            .clone()
            .or_else(|| parsed.protocol.clone())
            .unwrap_or_default();
        Ok((parsed, writing))
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TargetForm {
    /// The canonical text form (@alice@example.com).
    Text,
    /// im:<proto>=<identifier>.
    Im,
    /// <proto>:<identifier> (tel: and mailto: for phone numbers and email).
    Scheme,
    /// mimi://<domain>/<type>/<id>, the form used in certificates.
    Mimi,
}

pub fn run(cmd: IdCommand) -> anyhow::Result<()> {
    match cmd {
        IdCommand::Parse { proto, json, text } => {
            let (parsed, proto) = proto.parse(&text)?;
            let report = Report::new(&parsed.identifier, &proto);
            if json {
                println!("{}", serde_json::to_string_pretty(&report.json())?);
            } else {
                print!("{}", report.human());
            }
            Ok(())
        }
        IdCommand::Convert { proto, to, text } => {
            let (parsed, proto) = proto.parse(&text)?;
            println!("{}", convert(&parsed.identifier, to, &proto)?);
            Ok(())
        }
    }
}

pub fn convert(id: &Identifier, to: TargetForm, proto: &Protocol) -> Result<String, FormError> {
    match to {
        TargetForm::Text => Ok(id.to_string()),
        TargetForm::Im => id.to_im_uri(proto),
        TargetForm::Scheme => id.to_scheme_uri(proto),
        TargetForm::Mimi => id.to_mimi_uri(),
    }
}

/// Everything `mimi id parse` says about an identifier.
pub struct Report<'a> {
    id: &'a Identifier,
    proto: &'a Protocol,
    im: Result<String, FormError>,
    scheme: Result<String, FormError>,
    mimi: Result<String, FormError>,
    parent: Option<Identifier>,
}

/// The JSON shape of `mimi id parse --json`.
#[derive(Debug, Serialize)]
struct JsonReport {
    kind: &'static str,
    canonical: String,
    domain: Option<String>,
    protocol: String,
    im_uri: Option<String>,
    scheme_uri: Option<String>,
    mimi_uri: Option<String>,
    parent: Option<String>,
    parent_kind: Option<&'static str>,
}

impl<'a> Report<'a> {
    pub fn new(id: &'a Identifier, proto: &'a Protocol) -> Self {
        Report {
            id,
            proto,
            im: id.to_im_uri(proto),
            scheme: id.to_scheme_uri(proto),
            mimi: id.to_mimi_uri(),
            parent: id.parent(),
        }
    }

    fn json(&self) -> JsonReport {
        JsonReport {
            kind: self.id.kind().as_str(),
            canonical: self.id.to_string(),
            domain: self.id.domain().map(ToString::to_string),
            protocol: self.proto.name().to_owned(),
            im_uri: self.im.clone().ok(),
            scheme_uri: self.scheme.clone().ok(),
            mimi_uri: self.mimi.clone().ok(),
            parent: self.parent.as_ref().map(ToString::to_string),
            parent_kind: self.parent.as_ref().map(|p| p.kind().as_str()),
        }
    }

    pub fn human(&self) -> String {
        let form = |r: &Result<String, FormError>| match r {
            Ok(s) => s.clone(),
            Err(e) => format!("(none: {e})"),
        };
        let mut rows = vec![
            ("kind", self.id.kind().to_string()),
            ("canonical", self.id.to_string()),
            (
                "domain",
                self.id.domain().map_or(
                    "(none: unqualified; URI forms use local.invalid)".into(),
                    |d| d.to_string(),
                ),
            ),
            ("im: form", form(&self.im)),
            ("scheme form", form(&self.scheme)),
            ("mimi:// form", form(&self.mimi)),
        ];
        if let Some(parent) = &self.parent {
            rows.push(("parent", format!("{parent} ({})", parent.kind())));
        }
        let mut out = String::new();
        for (label, value) in rows {
            out.push_str(&format!("{label:<13}{value}\n"));
        }
        out
    }
}
