//! An HTTP origin on loopback for `url=` artifacts: the internet a download test may reach.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Answers every request with one fixed response until the test process ends, counting them.
pub struct Origin {
    /// The URL of the one file it serves (any path gets the same answer).
    pub url: String,
    hits: Arc<AtomicUsize>,
}

impl Origin {
    /// Serves `body` with status line `status` (e.g. `"200 OK"`) at `http://127.0.0.1:PORT/images/vmlinuz`.
    pub fn serve(status: &'static str, body: &'static [u8]) -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/images/vmlinuz", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                counter.fetch_add(1, Ordering::SeqCst);
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                // The request head ends with an empty line; its content does not matter.
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
        Origin { url, hits }
    }

    /// How many requests reached it so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}
