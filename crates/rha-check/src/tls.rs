//! TLS for https, pops, imaps, ldaps and STARTTLS, with rustls.
//!
//! ldirectord does not verify certificates (LWP with `verify_hostname 0`, IO::Socket::SSL
//! defaults): real servers behind a VIP commonly carry the VIP's certificate, not one for their
//! own address. We do the same by default; `CheckSpec::tls_verify` verifies against the
//! system's CA store (/etc/ssl/certs/ca-certificates.crt) and the server name.
//! The server name sent (SNI) is `virtualhost` when it is a DNS name; an IP address sends none.

use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::Down;

/// Debian's bundle of trusted CAs (package ca-certificates).
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Accepts any certificate, as ldirectord does; signatures are still checked so that the
/// handshake is a real one.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The two client configurations, built once per process (checks run thousands of times).
fn config(verify: bool) -> Result<Arc<ClientConfig>, Down> {
    static LAX: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    static STRICT: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    if !verify {
        return Ok(LAX
            .get_or_init(|| {
                let p = provider();
                let cfg = ClientConfig::builder_with_provider(p.clone())
                    .with_safe_default_protocol_versions()
                    .expect("ring supports the default TLS versions")
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(p)))
                    .with_no_client_auth();
                Arc::new(cfg)
            })
            .clone());
    }
    STRICT
        .get_or_init(|| {
            let pem = std::fs::read(CA_BUNDLE).map_err(|e| format!("cannot read {CA_BUNDLE}: {e}"))?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem) {
                let cert: CertificateDer = cert.map_err(|e| format!("{CA_BUNDLE}: {e}"))?;
                let _ = roots.add(cert);
            }
            let cfg = ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(Arc::new(cfg))
        })
        .clone()
        .map_err(Down)
}

/// The name to present: `virtualhost` if it is a DNS name or an address, else the real's IP.
pub fn server_name(virtualhost: Option<&str>, ip: IpAddr) -> ServerName<'static> {
    if let Some(host) = virtualhost {
        // A Host header may carry a port; the TLS name never does.
        let host = host.rsplit_once(':').filter(|(_, p)| p.parse::<u16>().is_ok()).map_or(host, |(h, _)| h);
        if let Ok(name) = ServerName::try_from(host.trim_matches(['[', ']']).to_string()) {
            return name;
        }
    }
    ServerName::IpAddress(ip.into())
}

/// Runs the TLS handshake over an open TCP connection.
pub async fn handshake(
    tcp: TcpStream,
    name: ServerName<'static>,
    verify: bool,
) -> Result<TlsStream<TcpStream>, Down> {
    let connector = TlsConnector::from(config(verify)?);
    connector.connect(name, tcp).await.map_err(|e| Down(format!("TLS handshake failed: {e}")))
}

/// A connection that is plain or TLS, so a protocol can upgrade it (STARTTLS) and go on.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    /// Upgrades a plain stream to TLS (after the server agreed to STARTTLS).
    pub async fn start_tls(self, name: ServerName<'static>, verify: bool) -> Result<Stream, Down> {
        match self {
            Stream::Plain(tcp) => Ok(Stream::Tls(Box::new(handshake(tcp, name, verify).await?))),
            tls @ Stream::Tls(_) => Ok(tls),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_name_prefers_a_dns_virtualhost_and_drops_its_port() {
        let ip: IpAddr = "198.51.100.10".parse().unwrap();
        assert_eq!(
            server_name(Some("www.example.org:8443"), ip),
            ServerName::try_from("www.example.org").unwrap()
        );
        assert_eq!(server_name(None, ip), ServerName::IpAddress(ip.into()));
        assert_eq!(server_name(Some("bad name!"), ip), ServerName::IpAddress(ip.into()));
    }

    #[test]
    fn both_configs_build() {
        assert!(config(false).is_ok());
        if std::path::Path::new(CA_BUNDLE).exists() {
            assert!(config(true).is_ok());
        }
    }
}
