//! Sending the `sms-link-00` code (draft-peterson-mimi-idprover §4) to a
//! phone number. The SMS network is the one part of the system that is
//! simulated: [`OutboxGateway`] appends each message to a file that the demo
//! and tests read "as the phone"; [`WebhookGateway`] posts it to a real SMS
//! provider's HTTP API.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SmsError {
    #[error("cannot write the SMS outbox {path}: {error}")]
    Outbox { path: String, error: String },
    #[error("the SMS provider could not be reached: {0}")]
    Unreachable(String),
    #[error("the SMS provider refused the message with HTTP {0}")]
    Refused(u16),
}

/// One text message to a phone number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sms {
    /// E.164 with '+', e.g. `+12015550123`.
    pub to: String,
    pub text: String,
}

type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SmsError>> + Send + 'a>>;

/// Something that delivers text messages to phones.
pub trait SmsGateway: Send + Sync + 'static {
    fn send<'a>(&'a self, sms: &'a Sms) -> SendFuture<'a>;
}

/// No gateway: a domain CA sends no SMS (its numbers are pre-authorized by
/// external account binding), so every send fails.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoGateway;

impl SmsGateway for NoGateway {
    fn send<'a>(&'a self, _sms: &'a Sms) -> SendFuture<'a> {
        Box::pin(async {
            Err(SmsError::Unreachable(
                "this server has no SMS gateway (a domain CA sends no codes)".into(),
            ))
        })
    }
}

/// Development gateway: appends each message as one JSON line
/// (`{"to":…,"text":…,"sent_at":…}`) to a file, created 0600 because it
/// holds codes.
#[derive(Debug)]
pub struct OutboxGateway {
    path: PathBuf,
    lock: Mutex<()>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct OutboxLine {
    pub to: String,
    pub text: String,
    pub sent_at: u64,
}

impl OutboxGateway {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        OutboxGateway {
            path: path.into(),
            lock: Mutex::new(()),
        }
    }

    /// Reads every message in an outbox file (what the "phone" received).
    pub fn read(path: &std::path::Path) -> std::io::Result<Vec<OutboxLine>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect())
    }

    async fn append(&self, sms: &Sms) -> Result<(), SmsError> {
        let fail = |e: std::io::Error| SmsError::Outbox {
            path: self.path.display().to_string(),
            error: e.to_string(),
        };
        let sent_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut line = serde_json::to_vec(&OutboxLine {
            to: sms.to.clone(),
            text: sms.text.clone(),
            sent_at,
        })
        .expect("plain data serializes");
        line.push(b'\n');
        // One writer at a time, so lines never interleave.
        let _guard = self.lock.lock().await;
        let mut options = tokio::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        options.mode(0o600);
        let mut file = options.open(&self.path).await.map_err(fail)?;
        file.write_all(&line).await.map_err(fail)?;
        file.sync_data().await.map_err(fail)
    }
}

impl SmsGateway for OutboxGateway {
    fn send<'a>(&'a self, sms: &'a Sms) -> SendFuture<'a> {
        Box::pin(self.append(sms))
    }
}

/// A real SMS provider behind an HTTP API: `POST <url>` with the JSON body
/// `{"to": "+12015550123", "text": "..."}` and a configurable
/// authentication header. Any 2xx answer means accepted.
#[derive(Debug, Clone)]
pub struct WebhookGateway {
    client: reqwest::Client,
    url: String,
    auth: Option<(String, String)>,
}

impl WebhookGateway {
    /// `auth` is a header name and value, e.g. `("Authorization", "Bearer …")`.
    pub fn new(url: &str, auth: Option<(String, String)>) -> Result<Self, SmsError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| SmsError::Unreachable(e.to_string()))?;
        Ok(WebhookGateway {
            client,
            url: url.to_owned(),
            auth,
        })
    }

    async fn post(&self, sms: &Sms) -> Result<(), SmsError> {
        let mut request = self.client.post(&self.url).json(sms);
        if let Some((name, value)) = &self.auth {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = request
            .send()
            .await
            .map_err(|e| SmsError::Unreachable(e.without_url().to_string()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(SmsError::Refused(response.status().as_u16()))
        }
    }
}

impl SmsGateway for WebhookGateway {
    fn send<'a>(&'a self, sms: &'a Sms) -> SendFuture<'a> {
        Box::pin(self.post(sms))
    }
}

/// A uniformly random six-digit code.
pub fn six_digit_code() -> String {
    loop {
        let mut bytes = [0u8; 4];
        aws_lc_rs::rand::fill(&mut bytes).expect("the system RNG works");
        let n = u32::from_be_bytes(bytes);
        // Reject the top sliver so that every code is equally likely.
        if n < u32::MAX - (u32::MAX % 1_000_000) {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

/// The text sent to the phone: it names the provider asking, so that a
/// user who did not ask can tell whom to distrust.
pub fn message_text(provider_domain: &str, code: &str) -> String {
    format!(
        "{code} is your code to link this number to your account at {provider_domain} \
         (MIMI). Give it only to {provider_domain}; if you did not ask, ignore this message."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..1000 {
            let code = six_digit_code();
            assert_eq!(code.len(), 6);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[tokio::test]
    async fn outbox_appends_lines_readable_as_the_phone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.jsonl");
        let gateway = OutboxGateway::new(&path);
        for n in ["+12015550123", "+442079460000"] {
            let sms = Sms {
                to: n.into(),
                text: message_text("a.example", "123456"),
            };
            gateway.send(&sms).await.unwrap();
        }
        let lines = OutboxGateway::read(&path).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].to, "+442079460000");
        assert!(lines[0].text.contains("123456") && lines[0].text.contains("a.example"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[tokio::test]
    async fn webhook_posts_json_with_its_auth_header() {
        use axum::Json;
        use axum::http::{HeaderMap, StatusCode};
        use axum::routing::post;
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, Sms)>::new()));
        let seen = received.clone();
        let app = axum::Router::new().route(
            "/sms",
            post(move |headers: HeaderMap, Json(sms): Json<Sms>| {
                let seen = seen.clone();
                async move {
                    let auth = headers
                        .get("x-api-key")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    if auth != "secret" {
                        return StatusCode::UNAUTHORIZED;
                    }
                    seen.lock().unwrap().push((auth, sms));
                    StatusCode::ACCEPTED
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/sms", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let sms = Sms {
            to: "+12015550123".into(),
            text: "hello".into(),
        };
        let good = WebhookGateway::new(&url, Some(("x-api-key".into(), "secret".into()))).unwrap();
        good.send(&sms).await.unwrap();
        assert_eq!(received.lock().unwrap().len(), 1);
        assert_eq!(received.lock().unwrap()[0].1, sms);

        let wrong = WebhookGateway::new(&url, Some(("x-api-key".into(), "nope".into()))).unwrap();
        assert!(matches!(
            wrong.send(&sms).await,
            Err(SmsError::Refused(401))
        ));
        let down = WebhookGateway::new("http://127.0.0.1:9/sms", None).unwrap();
        assert!(matches!(
            down.send(&sms).await,
            Err(SmsError::Unreachable(_))
        ));
    }
}
