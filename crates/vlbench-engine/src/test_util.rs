//! Test helpers shared by the crate's unit tests: a scripted HTTP/1.1
//! server on a thread of its own.

use std::io::{Read, Write};
use std::time::Duration;

/// The content type of JSON-lines answers.
pub(crate) const LINES: &str = "application/stream+json";

/// A server on its own thread for one connection: answers each request
/// (read to its blank line) with the next of `answers` after its
/// delay, written in 16 KB pieces; then closes.
pub(crate) fn scripted_server(answers: Vec<(Duration, Vec<u8>)>) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        for (delay, wire) in answers {
            let mut got = Vec::new();
            let mut b = [0u8; 1024];
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut b) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => got.extend_from_slice(&b[..n]),
                }
            }
            std::thread::sleep(delay);
            for part in wire.chunks(16 * 1024) {
                if s.write_all(part).is_err() {
                    return;
                }
            }
        }
    });
    addr
}

/// A 200 answer with a JSON-lines `body` and its Content-Length.
pub(crate) fn answer(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {LINES}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
