//! The dashboard's shared state ([`Web`]), its connection to Redis, and the pieces every
//! route uses: the prefix-aware [`Root`], the CSRF-checked [`CheckedForm`], basic auth,
//! security headers and the error page.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, RwLock};

use axum::extract::{FromRequest, FromRequestParts, NestedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use resque_failure::Failures;
use resque_store::{Client, Connection};

use crate::Config;
use crate::error::Error;

/// The dashboard's state: configuration, the CSRF token and the (lazily opened) Redis
/// connection. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Web {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    csrf: String,
    /// `Basic <base64(user:pass)>`, compared in constant time.
    auth_header: Option<String>,
    /// The namespace and server shown before the first connection succeeds.
    namespace: String,
    redis_id: String,
    conn: RwLock<Option<Conn>>,
    connecting: tokio::sync::Mutex<()>,
    /// The job metrics and history read so far that no longer change.
    figures: crate::figures::Figures,
    /// The key list, read for a few seconds' requests at once.
    key_list: crate::key_list::KeyList,
    /// The history charts' ended days, drawn once.
    chart_heads: crate::chart::Heads,
}

/// An open connection: the Resque client and the failure API over the same store.
#[derive(Debug, Clone)]
pub(crate) struct Conn {
    pub(crate) client: Client,
    pub(crate) failures: Failures,
}

impl Web {
    /// The state for a configuration. Nothing connects until the first request.
    pub fn new(config: Config) -> Self {
        let parsed = Connection::parse(&config.connection).ok();
        let namespace = config
            .namespace
            .clone()
            .or_else(|| {
                parsed
                    .as_ref()
                    .and_then(|c| c.namespace().map(str::to_owned))
            })
            .unwrap_or_else(|| resque_protocol::DEFAULT_NAMESPACE.to_owned());
        let redis_id = parsed
            .as_ref()
            .map_or_else(|| config.connection.clone(), |c| c.redis_id().to_owned());
        let csrf = config.csrf_secret.clone().unwrap_or_else(random_token);
        let auth_header = config
            .auth
            .as_ref()
            .map(|(u, p)| format!("Basic {}", base64(format!("{u}:{p}").as_bytes())));
        Self {
            inner: Arc::new(Inner {
                config,
                csrf,
                auth_header,
                namespace,
                redis_id,
                conn: RwLock::new(None),
                connecting: tokio::sync::Mutex::new(()),
                figures: Default::default(),
                key_list: Default::default(),
                chart_heads: Default::default(),
            }),
        }
    }

    pub(crate) fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The job metrics and history, through what is kept of them.
    pub(crate) fn figures(&self) -> &crate::figures::Figures {
        &self.inner.figures
    }

    /// The history charts' ended days, drawn once.
    pub(crate) fn chart_heads(&self) -> &crate::chart::Heads {
        &self.inner.chart_heads
    }

    pub(crate) fn key_list(&self) -> &crate::key_list::KeyList {
        &self.inner.key_list
    }

    pub(crate) fn csrf(&self) -> &str {
        &self.inner.csrf
    }

    /// The namespace shown in the header and footer.
    pub(crate) fn namespace(&self) -> &str {
        &self.inner.namespace
    }

    /// The server shown in the footer, without credentials.
    pub(crate) fn redis_id(&self) -> &str {
        &self.inner.redis_id
    }

    /// The connection, opening it on first use. A failed attempt is retried by the next
    /// request, so the dashboard recovers once Redis is up; an open connection reconnects
    /// by itself (fred's reconnect policy).
    pub(crate) async fn conn(&self) -> Result<Conn, Error> {
        if let Some(c) = self.read_conn() {
            return Ok(c);
        }
        let _one_at_a_time = self.inner.connecting.lock().await;
        if let Some(c) = self.read_conn() {
            return Ok(c);
        }
        let cfg = &self.inner.config;
        let client = Client::builder(&cfg.connection)
            .namespace(self.inner.namespace.as_str())
            .options(cfg.connect.clone())
            .connect()
            .await?;
        let failures = cfg.backend.failures(client.store()?.clone());
        // fred reconnects in the background (to the new master after a failover): say so
        // once, not once a request.
        tokio::spawn(tell_connection_news(client.store()?.clone()));
        let conn = Conn { client, failures };
        if let Ok(mut slot) = self.inner.conn.write() {
            *slot = Some(conn.clone());
        }
        Ok(conn)
    }

    fn read_conn(&self) -> Option<Conn> {
        self.inner.conn.read().ok().and_then(|c| c.clone())
    }

    /// Every registered worker id with its `worker:<id>` value (`None` when idle).
    pub(crate) async fn workers_with_payloads(
        &self,
        c: &Conn,
    ) -> Result<Vec<(String, Option<String>)>, Error> {
        let store = c.client.store()?;
        let ids = store.worker_ids().await?;
        let payloads = store.worker_payloads(&ids).await?;
        Ok(ids.into_iter().zip(payloads).collect())
    }

    /// A queue's length and `count` of its items from `start`, read together.
    pub(crate) async fn queue_slice(
        &self,
        c: &Conn,
        name: &str,
        start: u64,
        count: u64,
    ) -> Result<(u64, Vec<resque_store::PeekItem>), Error> {
        let (start, count) = (
            i64::try_from(start).unwrap_or(i64::MAX),
            i64::try_from(count).unwrap_or(i64::MAX),
        );
        Ok(tokio::try_join!(
            c.client.size(name),
            c.client.peek(name, start, count)
        )?)
    }
}

/// The path every link starts with: the `-a` prefix, then where the router is nested
/// (`""` when it is not), never ending in `/`.
#[derive(Debug, Clone)]
pub(crate) struct Root(pub(crate) String);

impl FromRequestParts<Web> for Root {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, Self::Rejection> {
        // axum's `NestedPath` extractor rejects un-nested routers; its extension does not.
        let nested = parts
            .extensions
            .get::<NestedPath>()
            .map_or("", NestedPath::as_str);
        let mut root = format!("{}{}", web.config().url_prefix, nested);
        while root.ends_with('/') {
            root.pop();
        }
        Ok(Root(root))
    }
}

/// A urlencoded form whose CSRF token (field `_csrf`, or header `X-CSRF-Token`) matched,
/// read as `T` (unknown fields, the token among them, are ignored).
#[derive(Debug)]
pub(crate) struct CheckedForm<T = NoFields>(pub(crate) T);

/// A form that carries nothing but its CSRF token.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct NoFields {}

impl<T: serde::de::DeserializeOwned> FromRequest<Web> for CheckedForm<T> {
    type Rejection = Error;

    async fn from_request(req: Request, web: &Web) -> Result<Self, Self::Rejection> {
        let header_token = req
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let axum::Form(fields) = axum::Form::<HashMap<String, String>>::from_request(req, web)
            .await
            .map_err(|e| Error::BadRequest(e.body_text()))?;
        let given = header_token.or_else(|| fields.get("_csrf").cloned());
        match given {
            Some(t) if constant_time_eq(t.as_bytes(), web.csrf().as_bytes()) => {
                // Every field is text: read `T` from them as strings.
                let fields = fields
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::String(v)))
                    .collect();
                serde_json::from_value(serde_json::Value::Object(fields))
                    .map(CheckedForm)
                    .map_err(|e| Error::BadRequest(format!("bad form: {e}")))
            }
            _ => Err(Error::Csrf),
        }
    }
}

/// Basic auth in front of every route, when configured.
pub(crate) async fn auth(State(web): State<Web>, req: Request, next: Next) -> Response {
    let Some(expected) = &web.inner.auth_header else {
        return next.run(req).await;
    };
    let ok = req
        .headers()
        .get(header::AUTHORIZATION)
        .is_some_and(|v| constant_time_eq(v.as_bytes(), expected.as_bytes()));
    if ok {
        return next.run(req).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"resque-web\"")],
        "authentication required\n",
    )
        .into_response()
}

/// Serves a request inside a `request` span ([`Config::request_spans`]), and logs it at
/// debug (`-d`) with its status and time.
pub(crate) async fn request_span(req: Request, next: Next) -> Response {
    use tracing::Instrument;
    let span = tracing::info_span!("request", method = %req.method(), path = req.uri().path());
    let began = std::time::Instant::now();
    async move {
        let res = next.run(req).await;
        tracing::debug!(
            status = res.status().as_u16(),
            ms = began.elapsed().as_secs_f64() * 1000.0,
            "served"
        );
        res
    }
    .instrument(span)
    .await
}

/// Headers on every response: Ruby's `Cache-Control`, and a policy that only our own
/// scripts and styles run, so markup that slipped through could still not execute.
pub(crate) async fn common_headers(mut res: Response) -> Response {
    let h: &mut HeaderMap = res.headers_mut();
    let defaults: [(&str, &str); 5] = [
        ("cache-control", "max-age=0, private, must-revalidate"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("x-frame-options", "SAMEORIGIN"),
        (
            "content-security-policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'",
        ),
    ];
    for (name, value) in defaults {
        if !h.contains_key(name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    }
    res
}

/// A random hex token from the kernel's generator (no dependency needed for 32 bytes).
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        // No /dev/urandom (a chroot?): fall back to time, pid and addresses, hashed. Weaker,
        // so say so; a fixed secret can be configured instead.
        tracing::warn!("/dev/urandom unavailable; CSRF token derived from time and pid");
        let seed = format!(
            "{:?}{}{:p}",
            std::time::SystemTime::now(),
            std::process::id(),
            &bytes
        );
        for (i, b) in seed.bytes().enumerate() {
            bytes[i % 32] = bytes[i % 32].wrapping_mul(31).wrapping_add(b);
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without an early exit, so timing does not reveal how much of a secret matched.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Standard base64 with padding (for the basic-auth header we compare against).
pub(crate) fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Logs the connection lost and back, once each, for as long as the connection lives.
async fn tell_connection_news(store: resque_store::Store) {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        store.log_connection_news();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("admin:s3cret", "YWRtaW46czNjcmV0"),
        ] {
            assert_eq!(base64(input.as_bytes()), want, "{input}");
        }
    }

    #[test]
    fn tokens_are_64_hex_digits_and_differ() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert!(constant_time_eq(a.as_bytes(), a.as_bytes()));
        assert!(!constant_time_eq(a.as_bytes(), b.as_bytes()));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
