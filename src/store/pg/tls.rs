//! TLS to the server (`db-ca-file`): rustls, trusting only the certificate authority the
//! admin names (the server's certificate must chain to it and name the host of `db-url`).
//! Without a CA file the connection is plain TCP, as before; `sslmode=require` in `db-url`
//! then fails, since there is nothing to verify the server with.

use super::redact_url;
use crate::store::rules::invalid;
use crate::store::StoreError;
use postgres::{Client, Config, NoTls};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres_rustls::MakeRustlsConnect;

/// How this store's connections are made.
#[derive(Clone)]
pub(crate) enum Tls {
    Plain,
    Verified(MakeRustlsConnect),
}

impl Tls {
    /// TLS verified against the CA certificates (PEM) in `ca_file`, or plain TCP without one.
    pub(crate) fn from_ca_file(ca_file: Option<&Path>) -> Result<Self, StoreError> {
        let Some(path) = ca_file else {
            return Ok(Tls::Plain);
        };
        let bad = |m: String| invalid("db-ca-file", format!("{}: {m}", path.display()));
        let mut roots = rustls::RootCertStore::empty();
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))?;
        for cert in certs {
            let cert = cert.map_err(|e| bad(format!("not a PEM certificate: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| bad(format!("not a usable CA certificate: {e}")))?;
        }
        if roots.is_empty() {
            return Err(bad("holds no certificate".into()));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Tls::Verified(MakeRustlsConnect::new(config)))
    }

    /// Connects to `url`, waiting at most `timeout` for the server when one is given (a
    /// timeout in the URL wins if it is shorter).
    pub(crate) fn connect(
        &self,
        url: &str,
        timeout: Option<Duration>,
    ) -> Result<Client, StoreError> {
        let failed = |e: &dyn std::fmt::Display| {
            StoreError::Backend(format!(
                "connecting to PostgreSQL at {}: {e}",
                redact_url(url)
            ))
        };
        let mut config = Config::from_str(url).map_err(|e| failed(&e))?;
        if let Some(timeout) = timeout {
            if config.get_connect_timeout().is_none_or(|t| *t > timeout) {
                config.connect_timeout(timeout);
            }
        }
        let connected = match self {
            Tls::Plain => config.connect(NoTls),
            Tls::Verified(tls) => config.connect(tls.clone()),
        };
        // The driver's summary ("error performing TLS handshake") hides why: say it.
        connected.map_err(|e| match std::error::Error::source(&e) {
            Some(cause) => failed(&format!("{e}: {cause}")),
            None => failed(&e),
        })
    }
}
