//! The server's connections, plain or HTTPS (the server's own TLS, rustls on ring, for a
//! platform with no reverse proxy in front; the certificate chain and the private key are PEM
//! files): HTTP/1.1 with upgrades (the WebSocket) on each connection, the peer's address given
//! to handlers as axum's `ConnectInfo` (login rate limits read it).
//!
//! What a client may hold is bounded, so that no one, signed in or not, can take the file
//! handles the device services and the database need: a deadline on headers
//! (`header_timeout`, which also closes an idle connection), a deadline on bodies (the same
//! time plus what the body's size needs at `MIN_BODY_RATE`: a body trickled a byte at a time
//! fails), at most `Limits::per_client` connections from one address (none for the trusted
//! proxy, which carries everyone's), and at most half the process's handles in all
//! (`netio::admission::http_slot`). A connection over a limit is closed at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tower::ServiceExt;

/// Why the certificate or the key cannot serve TLS; names the file and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{file}: {error}")]
    Pem { file: std::path::PathBuf, error: rustls::pki_types::pem::Error },
    #[error("{0}: no certificate in it")]
    NoCertificate(std::path::PathBuf),
    #[error("{file}: {error}")]
    Config { file: std::path::PathBuf, error: rustls::Error },
}

/// A TLS acceptor from PEM files; the error names the file and what is wrong.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    fn pem(file: &Path) -> impl Fn(rustls::pki_types::pem::Error) -> TlsError + '_ {
        move |error| TlsError::Pem { file: file.to_path_buf(), error }
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(pem(cert))?
        .collect::<Result<_, _>>()
        .map_err(pem(cert))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(cert.to_path_buf()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(pem(key))?;
    let config = |error| TlsError::Config { file: cert.to_path_buf(), error };
    let mut cfg =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(config)?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(config)?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}

/// How long a client may take, by default, to send a request's headers before its connection
/// is closed (slow-loris), over TLS or not (`Config::header_timeout`, `--header-timeout`).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections one client address may hold at once by default: a course's organisation
/// behind one NAT (a dozen browsers, each with a few connections and its live views) fits.
pub const DEFAULT_PER_CLIENT: usize = 256;

/// The slowest a request body may come, after the header timeout's grace (bytes a second):
/// an 8 MiB exercise upload over a 256 kbit/s link comes at twice this.
pub const MIN_BODY_RATE: u64 = 16 * 1024;

/// What the server's clients may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a client may take to send a request's headers (and to be idle between
    /// requests) before its connection is closed (slow-loris); a body gets as long plus what
    /// its size needs at `MIN_BODY_RATE`.
    pub header_timeout: Duration,
    /// Connections one client address may hold at once.
    pub per_client: usize,
    /// A reverse proxy whose connections carry every user's (no per-address limit for it;
    /// its `X-Forwarded-For` names the client for the login limits).
    pub trusted_proxy: Option<IpAddr>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { header_timeout: DEFAULT_HEADER_TIMEOUT, per_client: DEFAULT_PER_CLIENT, trusted_proxy: None }
    }
}

/// Connections open per client address.
#[derive(Debug, Default)]
struct Clients(Mutex<HashMap<IpAddr, usize>>);

/// One client's connection, counted while it lives.
struct ClientSlot {
    clients: Arc<Clients>,
    ip: IpAddr,
}

impl Clients {
    fn take(self: &Arc<Self>, ip: IpAddr, most: usize) -> Option<ClientSlot> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(ip).or_default();
        if *n >= most {
            return None;
        }
        *n += 1;
        Some(ClientSlot { clients: self.clone(), ip })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut m = self.clients.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

/// Serves `router` until `shutdown` completes, over TLS when `acceptor` is given, connection
/// by connection with hyper: HTTP/1.1 with upgrades (the WebSocket), the peer's address as
/// `ConnectInfo`, and the `limits` (axum's own `serve` has none of them).
pub async fn serve(
    router: Router,
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    netio::admission::raise_nofile_limit();
    let clients = Arc::new(Clients::default());
    let mut refused = netio::admission::Throttles::new(Duration::from_secs(10));
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => return Ok(()),
            a = listener.accept() => match a {
                Ok(x) => x,
                Err(_) => {
                    // EMFILE and friends: wait a little, keep serving.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let per_client = if Some(peer.ip()) == limits.trusted_proxy { usize::MAX } else { limits.per_client };
        let Some(client) = clients.take(peer.ip(), per_client) else {
            drop(tcp);
            if let Some(left_out) = refused.allow("client", std::time::Instant::now()) {
                tracing::warn!(%peer, left_out, "connection refused: the client holds as many as it may");
            }
            continue;
        };
        let Some(slot) = netio::admission::http_slot() else {
            drop(tcp);
            if let Some(left_out) = refused.allow("process", std::time::Instant::now()) {
                tracing::warn!(%peer, left_out, "connection refused: the web server holds its share of handles");
            }
            continue;
        };
        let (acceptor, router) = (acceptor.clone(), router.clone());
        let header_timeout = limits.header_timeout;
        // The places go with the socket: an upgraded connection (a WebSocket) keeps them.
        let tcp = Counted { io: tcp, _places: (client, slot) };
        tokio::spawn(async move {
            match acceptor {
                Some(acceptor) => {
                    // A handshake that does not finish in 10 s costs only its own connection.
                    if let Ok(Ok(tls)) =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
                    {
                        connection(tls, router, peer, header_timeout).await;
                    }
                }
                None => connection(tcp, router, peer, header_timeout).await,
            }
        });
    }
}

async fn connection<I>(io: I, router: Router, peer: std::net::SocketAddr, header_timeout: Duration)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let req = req.map(|body| axum::body::Body::new(Paced::new(body, header_timeout)));
        router.clone().oneshot(req)
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(hyper_util::rt::TokioIo::new(io), svc)
        .with_upgrades()
        .await;
}

/// A connection's socket with its places in the limits (per client, the web's share of
/// handles): they are given back when the socket closes, whoever holds it then (hyper's
/// connection, or the WebSocket it was upgraded to).
struct Counted<I> {
    io: I,
    _places: (ClientSlot, netio::admission::HttpSlot),
}

impl<I: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Counted<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<I: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Counted<I> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// A request body that fails once it comes slower than `MIN_BODY_RATE` after a grace: by
/// `grace + received / MIN_BODY_RATE` from its start, the next bytes must have come.
struct Paced {
    inner: hyper::body::Incoming,
    start: tokio::time::Instant,
    grace: Duration,
    received: u64,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl Paced {
    fn new(inner: hyper::body::Incoming, grace: Duration) -> Paced {
        let start = tokio::time::Instant::now();
        Paced { inner, start, grace, received: 0, deadline: Box::pin(tokio::time::sleep(grace)) }
    }
}

/// Why a body was cut off.
#[derive(Debug, thiserror::Error)]
#[error("the request body came slower than {MIN_BODY_RATE} bytes a second")]
pub struct TooSlow;

impl http_body::Body for Paced {
    type Data = axum::body::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    this.received += d.len() as u64;
                    let allowed =
                        this.grace + Duration::from_secs_f64(this.received as f64 / MIN_BODY_RATE as f64);
                    this.deadline.as_mut().reset(this.start + allowed);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(TooSlow.into()))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
