//! Trust roots and the rustls client configuration. Verification is never
//! switched off: the only choice is *which* roots, the system's or the
//! configured bundle/directory, which replace them (§5).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::error::ClientError;

/// Where the roots came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootsSource {
    /// The operating system's store (rustls-native-certs).
    System,
    /// `ssl_ca_bundle` and/or `ssl_ca_path`.
    Configured,
}

/// Builds the root store. A configured bundle or directory that cannot be
/// read, or holds no certificate, is an error (the daemon exits 1); an
/// empty system store is only a warning, as the calls will then fail one
/// by one with a verification error that names the problem.
pub(crate) fn load_roots(
    ca_bundle: Option<&Path>,
    ca_path: Option<&Path>,
) -> Result<(RootCertStore, RootsSource), ClientError> {
    let mut store = RootCertStore::empty();
    if ca_bundle.is_none() && ca_path.is_none() {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::warn!(error = %e, "problem loading system certificates");
        }
        let (added, ignored) = store.add_parsable_certificates(found.certs);
        if ignored > 0 {
            tracing::debug!(ignored, "unparsable system certificates skipped");
        }
        if added == 0 {
            tracing::warn!(
                "no system root certificates found; TLS to the collector will fail \
                 unless ssl_ca_bundle or ssl_ca_path is set"
            );
        }
        return Ok((store, RootsSource::System));
    }
    if let Some(bundle) = ca_bundle {
        let bytes = std::fs::read(bundle).map_err(|source| ClientError::CaBundleRead {
            path: bundle.to_owned(),
            source,
        })?;
        if add_pem(&mut store, &bytes) == 0 {
            return Err(ClientError::CaBundleEmpty {
                path: bundle.to_owned(),
            });
        }
    }
    if let Some(dir) = ca_path {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|source| ClientError::CaPathRead {
                path: dir.to_owned(),
                source,
            })?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|ext| ext == "pem"))
            .collect();
        files.sort();
        let mut added = 0;
        for file in files {
            let bytes = std::fs::read(&file).map_err(|source| ClientError::CaPathRead {
                path: file.clone(),
                source,
            })?;
            let n = add_pem(&mut store, &bytes);
            if n == 0 {
                tracing::warn!(file = %file.display(), "no certificate in CA file");
            }
            added += n;
        }
        if added == 0 {
            return Err(ClientError::CaPathEmpty {
                path: dir.to_owned(),
            });
        }
    }
    Ok((store, RootsSource::Configured))
}

/// Adds every usable certificate of a PEM text; returns how many.
fn add_pem(store: &mut RootCertStore, pem: &[u8]) -> usize {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .filter_map(Result::ok)
        .collect();
    store.add_parsable_certificates(certs).0
}

/// A client configuration over `roots` with ring, HTTP/1.1 ALPN.
pub(crate) fn client_config(
    roots: RootCertStore,
) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(ClientError::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
