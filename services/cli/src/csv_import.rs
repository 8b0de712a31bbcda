//! Preparing a spreadsheet file (CSV or xlsx) for `ImportLeads`: its format, its import
//! key (a fingerprint of its bytes, so uploading the same file again creates nothing
//! twice), and its bytes as the stream of upload messages. Reading, decoding (UTF-8,
//! BOM, GBK) and mapping the columns happen in intake, so every client imports alike.

use std::path::Path;

use futures::{Stream, StreamExt as _};
use sha2::{Digest, Sha256};
use shangji_contracts::intake::import_leads_request::Part;
use shangji_contracts::intake::{ImportFormat, ImportLeadsRequest, ImportMetadata};
use tokio::io::AsyncReadExt as _;

/// Bytes per upload message.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// The format intake should read, from the file's extension (CSV unless `.xlsx`).
pub fn format_of(path: &Path) -> ImportFormat {
    match path.extension().and_then(|e| e.to_str()) {
        Some(ext) if ext.eq_ignore_ascii_case("xlsx") => ImportFormat::Xlsx,
        _ => ImportFormat::Csv,
    }
}

/// First 16 hex digits of SHA-256 over the raw bytes (BOM included).
pub fn fingerprint(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..8])
}

/// Reads the file once to fingerprint it; returns (fingerprint, size in bytes).
pub async fn fingerprint_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut hash = Sha256::new();
    let mut buffer = vec![0; CHUNK_BYTES];
    let mut size = 0_u64;
    loop {
        let n = file.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        hash.update(&buffer[..n]);
        size += n as u64;
    }
    Ok((hex::encode(&hash.finalize()[..8]), size))
}

/// The upload: the metadata, then the file in chunks. `on_chunk` sees each chunk's size
/// (for a progress bar). A read error ends the stream without closing the upload and is
/// handed to `on_error`; the caller then abandons the call, so intake never takes a
/// truncated file for a whole one.
pub fn upload_stream(
    metadata: ImportMetadata,
    file: tokio::fs::File,
    on_chunk: impl Fn(usize) + Send + Sync + 'static,
    on_error: tokio::sync::oneshot::Sender<std::io::Error>,
) -> impl Stream<Item = ImportLeadsRequest> + Send + 'static {
    let first = ImportLeadsRequest {
        part: Some(Part::Metadata(metadata)),
    };
    let on_chunk = std::sync::Arc::new(on_chunk);
    let state = (Some(file), Some(on_error));
    let chunks = futures::stream::unfold(state, move |(file, on_error)| {
        let on_chunk = on_chunk.clone();
        async move {
            let mut file = file?;
            let mut buffer = vec![0; CHUNK_BYTES];
            match file.read(&mut buffer).await {
                Ok(0) => None,
                Ok(n) => {
                    buffer.truncate(n);
                    on_chunk(n);
                    let message = ImportLeadsRequest {
                        part: Some(Part::Chunk(buffer)),
                    };
                    Some((message, (Some(file), on_error)))
                }
                Err(e) => {
                    if let Some(tx) = on_error {
                        let _ = tx.send(e);
                    }
                    // Hold the upload open: the caller abandons the call.
                    futures::future::pending::<()>().await;
                    None
                }
            }
        }
    });
    futures::stream::once(async move { first }).chain(chunks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_follow_the_extension() {
        assert_eq!(format_of(Path::new("a/leads.XLSX")), ImportFormat::Xlsx);
        assert_eq!(format_of(Path::new("leads.csv")), ImportFormat::Csv);
        assert_eq!(format_of(Path::new("leads")), ImportFormat::Csv);
    }

    #[tokio::test]
    async fn the_upload_is_the_metadata_then_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.csv");
        let content: Vec<u8> = (0..(CHUNK_BYTES * 2 + 10))
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(&path, &content).unwrap();
        let (key, size) = fingerprint_file(&path).await.unwrap();
        assert_eq!(key, fingerprint(&content));
        assert_eq!(size, content.len() as u64);

        let (tx, _rx) = tokio::sync::oneshot::channel();
        let file = tokio::fs::File::open(&path).await.unwrap();
        let metadata = ImportMetadata {
            file_name: "big.csv".into(),
            ..Default::default()
        };
        let messages: Vec<_> = upload_stream(metadata, file, |_| {}, tx).collect().await;
        assert_eq!(messages.len(), 4);
        assert!(matches!(messages[0].part, Some(Part::Metadata(_))));
        let mut sent = Vec::new();
        for m in &messages[1..] {
            let Some(Part::Chunk(bytes)) = &m.part else {
                panic!("a chunk")
            };
            sent.extend_from_slice(bytes);
        }
        assert_eq!(sent, content);
    }
}
