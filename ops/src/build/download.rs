//! Artifacts by URL: downloads into the content-addressed cache.
//!
//! A `url=` artifact is fetched once into the [`ArtifactCache`] and verified against the
//! fleet's sha256 before it is kept, so the cache holds only bytes some fleet asked for by
//! hash, and a file name in it is a promise about its contents. The download goes to a
//! temporary file beside the cache and is renamed into place only once verified, so an
//! interrupted or wrong download never looks cached.

use std::fs;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use netboot_compiler::ArtifactCache;
use sha2::{Digest, Sha256};

/// Why an artifact could not be downloaded into the cache.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("the server answered {status} {text}")]
    Status { status: u16, text: String },
    #[error("cannot download: {0}")]
    Transport(String),
    #[error(
        "the downloaded file ({bytes} bytes) has sha256 {found}, but the fleet says {expected}"
    )]
    Mismatch {
        expected: String,
        found: String,
        bytes: u64,
    },
    #[error("cannot write to the artifact cache at {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// Downloads `url` into `cache`, keeping it only if its sha256 is `sha256`. `label` names it
/// on the progress bar, which is drawn only when stderr is a terminal.
pub fn fetch(
    cache: &ArtifactCache,
    url: &str,
    sha256: &str,
    label: &str,
) -> Result<PathBuf, FetchError> {
    let final_path = cache.path(sha256);
    let tmp_dir = cache.partial_dir();
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FetchError::Io { path, source }
    };
    fs::create_dir_all(&tmp_dir).map_err(io_err(&tmp_dir))?;
    let parent = final_path.parent().unwrap_or(cache.root()).to_path_buf();
    fs::create_dir_all(&parent).map_err(io_err(&parent))?;

    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(30))
        .timeout_read(Duration::from_secs(60))
        .user_agent(concat!("netboot/", env!("CARGO_PKG_VERSION")))
        .build();
    let response = agent.get(url).call().map_err(|e| match e {
        ureq::Error::Status(status, r) => FetchError::Status {
            status,
            text: r.status_text().to_string(),
        },
        ureq::Error::Transport(t) => FetchError::Transport(t.to_string()),
    })?;
    let length = response
        .header("Content-Length")
        .and_then(|v| v.parse::<u64>().ok());
    let bar = progress_bar(length, label);

    let tmp = tmp_dir.join(format!("{sha256}.{}.part", std::process::id()));
    let result = download(response.into_reader(), &tmp, &bar);
    bar.finish_and_clear();
    let (found, bytes) = match result {
        Ok(done) => done,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    if found != sha256 {
        let _ = fs::remove_file(&tmp);
        return Err(FetchError::Mismatch {
            expected: sha256.to_string(),
            found,
            bytes,
        });
    }
    fs::rename(&tmp, &final_path).map_err(io_err(&final_path))?;
    Ok(final_path)
}

/// Streams `body` into `tmp`, hashing as it goes; returns (sha256 hex, bytes).
fn download(
    mut body: impl Read,
    tmp: &Path,
    bar: &ProgressBar,
) -> Result<(String, u64), FetchError> {
    let io_err = |source| FetchError::Io {
        path: tmp.to_path_buf(),
        source,
    };
    let mut file = fs::File::create(tmp).map_err(io_err)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // A connection cut short is the server's fault, not the disk's.
            Err(e) => return Err(FetchError::Transport(e.to_string())),
        };
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n]).map_err(io_err)?;
        total += n as u64;
        bar.set_position(total);
    }
    file.sync_all().map_err(io_err)?;
    Ok((hex::encode(hasher.finalize()), total))
}

/// A byte bar when the size is known, a spinner otherwise; hidden unless stderr is a TTY.
fn progress_bar(length: Option<u64>, label: &str) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match length {
        Some(len) => ProgressBar::new(len).with_style(
            ProgressStyle::with_template(
                "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{prefix:>12} {spinner} {bytes} {bytes_per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.set_prefix(label.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// A spinner for work that may take more than a moment (hashing large artifacts): drawn on
/// stderr only when it is a terminal, and only once the work has lasted half a second, so
/// quick builds stay quiet. Call `finish_and_clear` when done.
pub fn spinner(message: &str) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()).with_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message.to_string());
    let later = bar.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        if !later.is_finished() {
            later.set_draw_target(ProgressDrawTarget::stderr());
            later.enable_steady_tick(Duration::from_millis(120));
        }
    });
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::net::TcpListener;

    /// A one-connection-at-a-time HTTP server on loopback answering every GET with `body`
    /// (or `status` with no body), for as many requests as `count`.
    fn serve(body: &'static [u8], status: &'static str, count: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(count) {
                let mut stream = stream.unwrap();
                let mut reader = io::BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 2 {
                    line.clear();
                }
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(body);
            }
        });
        format!("http://{addr}/artifact")
    }

    const BODY: &[u8] = b"kernel bytes";

    #[test]
    fn downloads_verify_and_land_under_their_hash() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ArtifactCache::new(dir.path().join("cache"));
        let sha = netboot_manifest::sha256_hex(BODY);
        assert_eq!(cache.cached(&sha), None);
        let url = serve(BODY, "200 OK", 1);
        let path = fetch(&cache, &url, &sha, "k").unwrap();
        assert_eq!(path, dir.path().join("cache/sha256").join(&sha));
        assert_eq!(fs::read(&path).unwrap(), BODY);
        assert_eq!(cache.cached(&sha), Some(path));
        assert_eq!(
            fs::read_dir(dir.path().join("cache/tmp")).unwrap().count(),
            0,
            "no partial file is left"
        );
    }

    #[test]
    fn a_wrong_hash_or_status_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ArtifactCache::new(dir.path().to_path_buf());
        let wrong = "0".repeat(64);
        let url = serve(BODY, "200 OK", 1);
        let err = fetch(&cache, &url, &wrong, "k").unwrap_err();
        assert!(
            matches!(&err, FetchError::Mismatch { found, bytes: 12, .. } if *found == netboot_manifest::sha256_hex(BODY)),
            "{err}"
        );
        assert_eq!(cache.cached(&wrong), None);
        let url = serve(b"", "404 Not Found", 1);
        let err = fetch(&cache, &url, &wrong, "k").unwrap_err();
        assert!(
            matches!(err, FetchError::Status { status: 404, .. }),
            "{err}"
        );
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn nothing_listening_is_a_transport_error() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let cache = ArtifactCache::new(dir.path().to_path_buf());
        let err = fetch(
            &cache,
            &format!("http://127.0.0.1:{port}/x"),
            &"0".repeat(64),
            "k",
        )
        .unwrap_err();
        assert!(matches!(err, FetchError::Transport(_)), "{err}");
    }
}
