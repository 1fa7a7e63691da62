//! The server's connections, plain or HTTPS (the server's own TLS, rustls on ring, for a
//! platform with no reverse proxy in front; the certificate chain and the private key are PEM
//! files): HTTP/1.1 with upgrades (the WebSocket) on each connection, the peer's address given
//! to handlers as axum's `ConnectInfo` (login rate limits read it), a timeout on headers.

use std::path::Path;
use std::sync::Arc;
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

/// Serves `router` until `shutdown` completes, over TLS when `acceptor` is given, connection
/// by connection with hyper: HTTP/1.1 with upgrades (the WebSocket), the peer's address as
/// `ConnectInfo`, and `header_timeout` on every request's headers (axum's own `serve` has no
/// such timeout).
pub async fn serve(
    router: Router,
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
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
        let (acceptor, router) = (acceptor.clone(), router.clone());
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
        router.clone().oneshot(req.map(axum::body::Body::new))
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(hyper_util::rt::TokioIo::new(io), svc)
        .with_upgrades()
        .await;
}
